"""The workflow on a real one-node Slurm cluster through the submitit executor plugin.

tests/slurm/start.sh installs Debian's Slurm if needed and starts the cluster (with slurmdbd
accounting, or without); these tests then run `snakemake --profile slurm` against it. They are
slow and need root; in CI (CI=true) a cluster that cannot start is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import (
    CONFIG,
    PROFILE,
    REPO,
    RESOURCES,
    SCRIPTS,
    TRANSFER_CONFIG,
    make_mini_corpus,
    plan,
    set_config,
    snakemake,
    snakemake_command,
    start_cluster,
)

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(autouse=True)
def empty_queue():
    """Each test starts and ends with no job in the queue, whatever an earlier one left (a blocker, an orphan):
    cancelled, and gone from squeue (a cancelled job is listed while it completes)."""
    def cancel_everything():
        subprocess.run(["scancel", "--me"], capture_output=True)
        deadline = time.time() + 60
        while time.time() < deadline and queued():
            time.sleep(0.5)

    cancel_everything()
    yield
    cancel_everything()


def on_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return snakemake(workdir, *args, "--profile", str(PROFILE), *RESOURCES, check=check)  # RESOURCES take all that follow


def start_on_slurm(workdir: Path, *args: str) -> subprocess.Popen:
    """`snakemake --profile slurm` in the background, in its own session, with a terminal's default signal handling
    (SIGHUP not ignored, also when the tests run under nohup), as a user's terminal would start it."""
    command = snakemake_command(workdir, "results/zero_shot.csv", *args, "--profile", str(PROFILE), *RESOURCES)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def queued() -> list[str]:
    out = subprocess.run(["squeue", "--noheader", "--states=PENDING,RUNNING,COMPLETING,CONFIGURING,REQUEUED",
                          "--format=%i"], capture_output=True, text=True).stdout
    return out.split()


def new_workdir(root: Path, config: dict, languages=("hau", "luo")) -> Path:
    make_mini_corpus(root / "data", languages, {"train": 60, "dev": 20, "test": 20})
    set_config(root, config)
    return root


def one_cell(epochs: int) -> dict:
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["checkpoints"]["mini"]["training"]["epochs"] = epochs
    config["experiment"].update(checkpoints=["mini"], train_languages=["hau"], eval_languages=["hau"])
    return config


def test_the_profile_run_gives_the_tables_of_the_local_run(cluster, local_run, tmp_path):
    workdir = new_workdir(tmp_path / "slurm-run", CONFIG)
    started = time.perf_counter()
    result = on_slurm(workdir, "results/zero_shot.csv")
    seconds = time.perf_counter() - started
    submitted = [line for line in (result.stdout + result.stderr).splitlines() if "as Slurm job" in line]
    print(f"profile run: {seconds:.1f} s, {len(submitted)} Slurm jobs")
    assert len(submitted) == 4  # one allocation per row of seeds (here one seed), its evaluations included
    for table in ("zero_shot.csv", "zero_shot_std.csv", "zero_shot_PER.csv", "in_language.csv", "cells.csv"):
        assert (workdir / "results" / table).read_text() == (local_run / "results" / table).read_text(), table
    logs = sorted(p.relative_to(workdir) for p in (workdir / "logs" / "slurm").rglob("*_log.out"))
    assert Path("logs/slurm/finetune/mini/hau/base/1") in [p.parent for p in logs], logs  # <group>/<row>/<seed>


def test_training_sets_and_lora_run_through_the_profile_and_give_the_tables_of_the_local_run(cluster, transfer_run,
                                                                                            tmp_path):
    """A cell trained on several languages, or with a LoRA adapter, is one more row: its job reads every language's
    files (and its evaluations the adapter's start) in an allocation."""
    workdir = new_workdir(tmp_path / "sets", TRANSFER_CONFIG, ("hau", "luo", "swa"))
    on_slurm(workdir)
    for table in ("zero_shot.csv", "cells.csv", "overlap.csv", "in_language.csv"):
        assert (workdir / "results" / table).read_text() == (transfer_run / "results" / table).read_text(), table
    assert (workdir / "logs" / "slurm" / "finetune" / "mini" / "hau_luo" / "alpha0.5").is_dir()  # job names: + -> _
    assert (workdir / "logs" / "slurm" / "adapt_checkpoint" / "mini-lang" / "luo").is_dir()  # a language adapter's job
    assert (workdir / "work" / "runs" / "mini" / "hau" / "lora-r4-a32" / "seed1" / "model" / "adapter_config.json").exists()


def test_a_preempted_fine_tune_saves_the_epoch_in_flight_and_resumes_after_it(cluster, tmp_path):
    """`scancel --signal=USR2` (what Slurm sends before preempting, or before the time limit) mid-epoch, with no
    periodic save: the fine-tune is asked to stop, finishes the epoch in flight, saves its state, and only then is
    the job requeued; it resumes after that epoch. The epochs are longer than the cluster's KillWait (5 s), which is
    all the time Slurm's own SIGTERM at the requeue would give."""
    config = one_cell(epochs=4)
    config["checkpoints"]["mini"]["recipe"].update(hidden_size=128, layers=2)
    config["save_state_every_seconds"] = 3600  # never within this test: only a stop request saves the state
    workdir = new_workdir(tmp_path / "preempt", config)
    make_mini_corpus(workdir / "data", ("hau",), {"train": 1900, "dev": 20, "test": 20})
    run = start_on_slurm(workdir)
    log = workdir / "work" / "logs" / "train" / "mini" / "hau" / "base" / "seed1.log"
    try:
        deadline = time.time() + 300
        while time.time() < deadline and run.poll() is None and not (log.exists() and '"epoch": 1,' in log.read_text()):
            time.sleep(0.2)
        assert run.poll() is None, run.stdout.read()[-3000:]
        time.sleep(1)  # well inside epoch 2
        before = log.read_text()
        finished = max(int(n) for n in re.findall(r'"epoch": (\d+),', before))
        (job,) = queued()
        subprocess.run(["scancel", "--signal=USR2", job], check=True)
        output, _ = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, output[-3000:]
    seconds = json.loads(before.splitlines()[-1])["seconds"]
    text = log.read_text()
    assert "resuming after epoch" in text, f"epochs of {seconds} s; log of the requeued job:\n{text[-2000:]}"
    resumed_from = int(text.split("resuming after epoch ")[1].split()[0])
    assert resumed_from == finished + 1, (finished, resumed_from, text[-2000:])  # the epoch in flight was kept
    epochs = [json.loads(line)["epoch"] for line in
              (workdir / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "train" / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]
    slurm_log = next((workdir / "logs" / "slurm").rglob(f"{job}_0_log.out")).read_text()  # both attempts
    assert re.search(r"asked the command's processes to stop \(.*\); all ended after \d+ s", slurm_log), slurm_log[-3000:]
    print(f"epochs of {seconds} s; signalled in epoch {finished + 1}, resumed after epoch {resumed_from}")


def test_a_short_time_limit_gets_a_signal_delay_to_scale_and_a_warning(cluster, tmp_path):
    """A 2-minute limit (train and evaluate of 1 min each): signalled 30 s before it, not submitit's 90 s, which
    left each attempt 30 s; and a warning says that such a limit may never let a long job finish."""
    workdir = new_workdir(tmp_path / "short", one_cell(epochs=1))
    resources = [{"train:runtime=10": "train:runtime=1", "evaluate:gpus=0": "evaluate:gpus=0 evaluate:runtime=1"}.get(
        value, value) for value in RESOURCES]
    result = snakemake(workdir, "results/zero_shot.csv", "--profile", str(PROFILE),
                       *" ".join(resources).split())  # one --set-resources: a second would replace the first
    output = result.stdout + result.stderr
    (script,) = (workdir / "logs" / "slurm").rglob("*_submission.sh")
    assert "#SBATCH --signal=USR2@30\n" in script.read_text() and "#SBATCH --time=2\n" in script.read_text()
    assert ("finetune:row=mini/hau/base,seed=1 has a time limit of 2 min: it is signalled to checkpoint 30 s "
            "before it") in output, \
        output[-3000:]


def processes_writing_to(log: Path, command_part: str) -> list[int]:
    """Pids of the processes whose command line holds `command_part` and whose stdout is `log`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and command_part in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                    and os.readlink(entry / "fd" / "1") == str(log)):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_killed_fine_tune_in_an_allocation_keeps_its_neighbours_finished_work_and_its_worker_log_says_why(cluster,
                                                                                                             tmp_path):
    """Two seeds of a row in one allocation; seed 1's warm worker is killed (kill -9) mid-training. The node's
    Snakemake keeps going (seed 2 finishes, and is evaluated), the run keeps seed 2's outputs, a rerun trains
    seed 1 only, and the workers' log says which signal ended which command. The workers are the profile's
    allocation service, which the executor starts beside the group's Snakemake and stops after it."""
    config = one_cell(epochs=25)
    config["experiment"]["seeds"] = [1, 2]
    workdir = new_workdir(tmp_path / "neighbour", config)
    run = start_on_slurm(workdir)
    logs = workdir / "work" / "logs" / "train" / "mini" / "hau" / "base"
    try:
        deadline = time.time() + 180
        while time.time() < deadline and run.poll() is None and not all(
                (logs / f"seed{seed}.log").exists() and '"epoch": 2,' in (logs / f"seed{seed}.log").read_text()
                for seed in (1, 2)):
            time.sleep(0.2)
        (worker,) = processes_writing_to(logs / "seed1.log", "warm-server")
        os.kill(worker, signal.SIGKILL)
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode != 0, output[-3000:]
    removed = [line for line in output.split("Removing output files of failed job")[1:]]
    assert not any("seed2" in part.split("\n\n")[0] for part in removed), output[-4000:]
    assert ("Kept the outputs of the 2 job(s) of the group that finished: train (row=mini/hau/base, seed=2); evaluate "
            "(row=mini/hau/base, seed=2, language=hau)\nNot done (2): ") in output, output[-4000:]
    (error,) = re.findall(r"Error in rule .*\n(?:    .*\n)*", output)  # once: the node's, of seed 1's fine-tune
    assert error.startswith("Error in rule train:") and "--output work/runs/mini/hau/base/seed1/train" in error, error
    seed2 = workdir / "work" / "runs" / "mini" / "hau" / "base" / "seed2"
    assert (seed2 / "train" / "epochs.jsonl").exists() and (seed2 / "model").exists()
    assert '"epoch": 25,' in (logs / "seed2.log").read_text()
    (workers_log,) = (workdir / "logs" / "slurm").rglob("*_service.log")  # beside the Slurm job's own log
    text = workers_log.read_text()
    assert re.search(rf"worker {worker} was killed by signal SIGKILL while running nertransfer train .*seed1", text), text
    assert "warm server: long-lived workers, 2 at once" in text  # one per CPU of the allocation (2 fine-tunes x 1)
    assert not processes_writing_to(workers_log, "warm-server")  # stopped with the group's Snakemake
    again = [(rule, wildcards) for rule, wildcards in plan(workdir, "results/zero_shot.csv") if rule in ("train", "evaluate")]
    assert sorted(again) == [("evaluate", "row=mini/hau/base, seed=1, language=hau"),
                             ("train", "row=mini/hau/base, seed=1")], again


@pytest.mark.parametrize("how", ["warm_start: false", "no allocation service"])
def test_without_warm_starts_each_job_of_an_allocation_runs_in_its_own_process(cluster, tmp_path, how):
    """`warm_start: false` in the config: the jobs are not told where the workers listen (they idle); the profile's
    service turned off on the command line: no workers are started at all."""
    config = one_cell(epochs=1)
    config["warm_start"] = how != "warm_start: false"
    workdir = new_workdir(tmp_path / "cold", config)
    off = ["--submitit-allocation-service", ""] if how == "no allocation service" else []
    result = on_slurm(workdir, "results/zero_shot.csv", *off, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    logs = list((workdir / "logs" / "slurm").rglob("*_service.log"))
    if how == "no allocation service":
        assert logs == []
    else:
        (log,) = logs
        text = log.read_text()
        assert "starting the allocation service: nertransfer warm-server" in text and "runs nertransfer" not in text, text


def interrupt_a_run_of_two_jobs(workdir: Path, number: signal.Signals) -> str:
    """Start a run of two long fine-tunes, send Snakemake `number` once both are queued; its output once it ended."""
    config = one_cell(epochs=1000)
    config["experiment"]["train_languages"] = ["hau", "luo"]
    new_workdir(workdir, config)
    run = start_on_slurm(workdir)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and run.poll() is None and len(queued()) < 2:
            time.sleep(0.2)
        assert len(queued()) == 2
        run.send_signal(number)  # most likely while Snakemake logs the second submission
        output, _ = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        pytest.fail(f"Snakemake went on after {number.name}:\n{run.communicate()[0][-3000:]}")
    finally:
        if run.poll() is None:  # a failed wait: no Snakemake is left behind
            os.killpg(run.pid, signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline and queued():
        time.sleep(0.5)
    return output


def test_interrupting_snakemake_cancels_every_job_it_submitted(cluster, tmp_path):
    output = interrupt_a_run_of_two_jobs(tmp_path / "interrupt", signal.SIGINT)  # Ctrl-C
    assert "Terminating processes on user request" in output, output[-3000:]
    assert queued() == []


def test_a_hang_up_cancels_every_job_the_run_submitted_as_ctrl_c_does(cluster, tmp_path):
    """The terminal closed or the ssh session dropped: by default SIGHUP ended Snakemake at once (status 129),
    leaving its jobs to run unseen beside the ones a rerun submitted."""
    output = interrupt_a_run_of_two_jobs(tmp_path / "hang-up", signal.SIGHUP)
    assert queued() == [], output[-3000:]
    assert "Terminating processes on user request" in output, output[-3000:]


def hold_a_job(name: str, folder: Path) -> str:
    """A job of `name` with `folder` as its working directory that never starts: one an earlier run left behind."""
    return subprocess.run(["sbatch", "--parsable", "--hold", "--job-name", name, "--chdir", str(folder),
                           "--output=/dev/null", "--wrap", "sleep 600"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_job_an_earlier_run_left_in_slurm_is_cancelled_before_its_replacement_is_submitted(cluster, tmp_path):
    """An earlier Snakemake died without cancelling its jobs (kill -9, a hang-up before the fix): a rerun must not
    submit a second job beside the orphan for the same row. A job of the same name in another folder is not ours."""
    workdir = new_workdir(tmp_path / "rerun", one_cell(epochs=1))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    name = "finetune:row=mini/hau/base,seed=1"  # the executor's name for the run's one job: <group>:<wildcards>
    orphan, other = hold_a_job(name, workdir), hold_a_job(name, elsewhere)
    try:
        result = on_slurm(workdir, "results/zero_shot.csv", check=False)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert f"Cancelled Slurm job(s) {orphan} ({name}), left queued or running in {workdir} by an earlier run, " \
               "before submitting its replacement." in output, output[-3000:]
        assert output.count("Cancelled Slurm job") == 1 and output.count("as Slurm job") == 1, output[-3000:]
        assert orphan not in queued() and other in queued()
        assert (workdir / "results" / "zero_shot.csv").exists()
    finally:
        subprocess.run(["scancel", orphan, other], capture_output=True)


def test_without_accounting_an_outage_is_ridden_out_and_a_failure_is_reported_with_its_log(tmp_path):
    start_cluster("no-accounting")
    try:
        assert subprocess.run(["sacct", "-n"], capture_output=True).returncode != 0  # accounting is really off
        workdir = new_workdir(tmp_path / "no-accounting", one_cell(epochs=1))
        output = run_through_an_outage(workdir, ("slurmctld",))
        assert output.count("as Slurm job") == 1 and "answers status queries again" in output, output[-3000:]
        assert (workdir / "results" / "zero_shot.csv").exists()

        # a fault only the job can meet (bad data is refused before any job): the model it evaluates is damaged
        test = workdir / "data" / "hau" / "test.txt"
        test.write_text(test.read_text() + "\nAbuja B-LOC\n")
        (workdir / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "model" / "config.json").write_text("{")
        started = time.perf_counter()
        result = on_slurm(workdir, "results/zero_shot.csv", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        job = re.search(r"as Slurm job (\d+)", output).group(1)
        # the group's failure reaches the user: Slurm id, state, log path and the failed job's own error
        assert re.search(f"Error in group finetune@mini/hau/base: Slurm job {job} ended (FAILED|RESULT_ERROR). Log "
                         f"logs/slurm/finetune/mini/hau/base/1/hau/{job}_0_log.out", output), output[-3000:]
        assert "model/config.json" in output and "not a valid JSON file" in output, output[-3000:]
        assert time.perf_counter() - started < 240
    finally:
        start_cluster("accounting")


def daemons(action: str, *names: str) -> None:
    subprocess.run(["bash", str(SCRIPTS / "daemon.sh"), action, *names], check=True, capture_output=True)


def hold_the_gpu(seconds: int) -> str:
    """A job that holds the cluster's one GPU for a while, so that the workflow's job waits behind it."""
    return subprocess.run(["sbatch", "--parsable", "--gres=gpu:1", "--time=2", "--job-name=blocker", "--output=/dev/null",
                           "--wrap", f"sleep {seconds}"], capture_output=True, text=True, check=True).stdout.strip()


def our_jobs() -> list[tuple[str, str]]:
    """(id, state) of the queued jobs that are not blockers."""
    out = subprocess.run(["squeue", "--noheader", "--format=%i %T %j"], capture_output=True, text=True).stdout
    return [tuple(line.split()[:2]) for line in out.splitlines() if line.split()[2] != "blocker"]


def run_through_an_outage(workdir: Path, down: tuple[str, ...], seconds: float = 25) -> str:
    """Run the workflow while its job waits behind a job that holds the one GPU; stop `down` for `seconds`."""
    hold_the_gpu(35)
    run = start_on_slurm(workdir, "--submitit-max-poll-seconds", "2")  # a dozen polls fall into the outage
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not our_jobs() and run.poll() is None:
            time.sleep(0.2)
        assert [state for _, state in our_jobs()] == ["PENDING"], run.stdout.read() if run.poll() is not None else ""
        daemons("stop", *down)
        time.sleep(seconds)
        daemons("start", *sorted(down, reverse=True))  # slurmdbd before slurmctld, as start.sh does
        output, _ = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 0, output[-3000:]
    return output


@pytest.mark.parametrize("down", [("slurmctld", "slurmdbd"), ("slurmctld",), ("slurmdbd",)], ids="-".join)
def test_an_outage_of_slurm_daemons_is_ridden_out_and_the_job_is_submitted_once(cluster, tmp_path, down):
    """A failed status query says nothing about a job: the pending job is kept, not declared lost and resubmitted."""
    workdir = new_workdir(tmp_path / "outage", one_cell(epochs=1))
    output = run_through_an_outage(workdir, down)
    assert output.count("as Slurm job") == 1, output[-3000:]
    assert "LOST" not in output
    if "slurmctld" in down:
        assert output.count("Slurm did not answer a status query (squeue exited 1: slurm_load_jobs error: Unable to "
                            "contact slurm controller") == 1, output[-3000:]  # warned once
        assert "Slurm answers status queries again after" in output
    assert (workdir / "results" / "zero_shot.csv").exists()


def test_past_the_outage_limit_jobs_are_given_up_with_what_to_do(cluster, tmp_path):
    workdir = new_workdir(tmp_path / "long-outage", one_cell(epochs=1))
    hold_the_gpu(30)
    run = start_on_slurm(workdir, "--submitit-max-poll-seconds", "2", "--submitit-status-outage-limit-s", "6")
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not our_jobs():
            time.sleep(0.2)
        ((job, state),) = our_jobs()
        daemons("stop", "slurmctld")
        output, _ = run.communicate(timeout=120)
        daemons("start", "slurmctld")
        assert run.returncode != 0
        assert re.search(r"Slurm has not answered status queries for \d+ s \(last: squeue exited 1: .*\), longer than "
                         rf"submitit-status-outage-limit-s; job {job} may still run or be queued", output), output[-3000:]
        assert f"Could not cancel Slurm job {job} (scancel exited " in output and "cancel it by hand before a rerun" in output
        assert job in queued()  # as the message says: Slurm still has it
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        daemons("start", "slurmctld")


def test_a_job_that_can_never_start_is_reported_at_once_with_what_was_asked_and_offered_and_cancelled(cluster, tmp_path):
    workdir = new_workdir(tmp_path / "too-big", one_cell(epochs=1))
    started = time.perf_counter()
    result = snakemake(workdir, "results/zero_shot.csv", "--profile", str(PROFILE), *RESOURCES, "--set-threads", "train=4",
                       check=False)  # after RESOURCES: the last --set-threads counts
    output = result.stdout + result.stderr
    assert result.returncode != 0
    job = re.search(r"as Slurm job (\d+)", output).group(1)
    assert f"Slurm job {job} can never start: it is pending with reason PartitionConfig" in output, output[-3000:]
    assert "Asked: cpus_per_task=4" in output and "nodes of 2 CPUs" in output
    assert f"Cancelled Slurm job {job}." in output
    assert "command exited with non-zero exit code" not in output and output.count("Error in group") == 1  # once
    assert time.perf_counter() - started < 90
    assert job not in queued()


def test_the_readme_cluster_command_runs_the_default_config_in_allocations_of_one_fine_tune(cluster, tmp_path):
    """`snakemake --profile slurm` with the profile as it is and the default config's ten evaluation
    languages (one cell, one epoch): the allocation holds what the fine-tune needs, not ten evaluations' sum."""
    workdir = tmp_path / "readme"
    workdir.mkdir()
    (workdir / "data").symlink_to(REPO / "data")
    set_config(workdir, {"experiment": {"checkpoints": ["tiny"], "train_languages": ["hau"]},
                         "checkpoints": {"tiny": {"training": {"epochs": 1}}}})  # merged over config/config.yaml
    result = snakemake(workdir, "results/zero_shot.csv", "--profile", str(PROFILE))
    output = result.stdout + result.stderr
    (job,) = re.findall(r"as Slurm job (\d+)", output)
    shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, check=True).stdout
    assert "NumCPUs=2 " in shown and "mem=16000M" in shown and "gres/gpu=1" in shown, shown
    import pandas as pd

    assert len(pd.read_csv(workdir / "results" / "zero_shot.csv", index_col=[0, 1]).columns) == 10


@pytest.mark.parametrize("profile", ["slurm"])
def test_profile_slurm_resolves_from_the_repository_root_and_groups_each_model_with_its_evaluations(profile, tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    result = subprocess.run([sys.executable, "-m", "snakemake", "--profile", profile, "-d", str(tmp_path), "-n",
                             "results/zero_shot.csv"], cwd=REPO, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert f"Using profiles {profile} and workflow specific profile profiles/default" in output
    # the default: 20 models (tiny and its Swahili start on 10 languages), 20 Slurm jobs, not 220; a model that
    # starts from another (sequential transfer) is its own job, not merged into the other's
    assert output.count("Group job finetune@") == 20


def test_the_status_of_a_running_matrix_shows_queued_running_and_done_cells_at_once(cluster, tmp_path):
    import csv

    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    for checkpoint in config["checkpoints"].values():
        checkpoint["training"]["epochs"] = 60  # long enough to be seen at work
    workdir = new_workdir(tmp_path / "status", config)
    run = start_on_slurm(workdir)  # four cells, one at a time on the one GPU
    seen = []
    try:
        deadline = time.time() + 300
        while time.time() < deadline and run.poll() is None:
            out = subprocess.run([sys.executable, "-m", "nertransfer", "status", "--configfile", str(workdir / "config.yaml"),
                                  "-d", str(workdir), "--csv", "-"], capture_output=True, text=True).stdout
            states = {row["state"]: row for row in csv.DictReader(out.splitlines())}
            seen.append(set(states))
            if {"done", "running", "queued"} <= set(states) and "epoch" in states["running"]["detail"]:
                break
            time.sleep(1)
        assert {"done", "running", "queued"} <= seen[-1], seen
        assert "dev F1" in states["running"]["detail"] and states["queued"]["detail"] == "Slurm: pending"
    finally:
        os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: cancels what it submitted
        run.communicate(timeout=120)


def test_the_plugins_queue_lists_this_folders_jobs_with_the_wildcards_their_names_give(cluster, tmp_path):
    """`python -m snakemake_executor_plugin_submitit queue`, what `nertransfer status` reads, against a real squeue: the
    jobs of this folder (reached by any path), with their state and the wildcards the executor named them after;
    not a second clone's job of the same name, nor one of this folder that has ended."""
    here, elsewhere = tmp_path / "run", tmp_path / "another clone"
    here.mkdir()
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(here)
    held = {name: hold_a_job(name, folder) for name, folder in
            [("finetune:row=mini/hau/base", here), ("evaluate:row=mini/luo/base,seed=2,language=h%C3%A4u", tmp_path / "link"),
             ("finetune:row=mini/hau/base,seed=1", elsewhere), ("interactive", here)]}
    ended = subprocess.run(["sbatch", "--parsable", "--job-name", "finetune:row=mini/swa/base", "--chdir", str(here),
                            "--output=/dev/null", "--wrap", "true"], capture_output=True, text=True, check=True).stdout.strip()
    try:
        deadline = time.time() + 60
        while time.time() < deadline and ended in queued():
            time.sleep(0.5)
        done = subprocess.run([sys.executable, "-m", "snakemake_executor_plugin_submitit", "queue", "--workdir", str(here)],
                              capture_output=True, text=True, check=True)
        report = json.loads(done.stdout)
        assert report["problem"] == "" and report["scheduler"] == "Slurm"
        jobs = {job["id"]: (job["state"], job["running"], job["wildcards"]) for job in report["jobs"]}
        assert jobs == {held["finetune:row=mini/hau/base"]: ("PENDING", False, {"row": "mini/hau/base"}),
                        held["evaluate:row=mini/luo/base,seed=2,language=h%C3%A4u"]: (
                            "PENDING", False, {"row": "mini/luo/base", "seed": "2", "language": "häu"}),
                        held["interactive"]: ("PENDING", False, {})}, report
    finally:
        subprocess.run(["scancel", *held.values()], capture_output=True)
