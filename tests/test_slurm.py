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

from conftest import (CONFIG, PROFILE, REPO, RESOURCES, SCRIPTS, make_mini_corpus, set_config, snakemake,
                      snakemake_command, start_cluster)

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
    """`snakemake --profile slurm` in the background, in its own session (as a user's terminal would be)."""
    command = snakemake_command(workdir, "results/zero_shot.csv", *args, "--profile", str(PROFILE), *RESOURCES)
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


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


def test_a_preempted_fine_tune_resumes_from_its_last_epoch(cluster, tmp_path):
    workdir = new_workdir(tmp_path / "preempt", one_cell(epochs=40))
    run = start_on_slurm(workdir)
    log = workdir / "work" / "logs" / "train" / "mini" / "hau" / "base" / "seed1.log"
    deadline = time.time() + 180
    while time.time() < deadline and run.poll() is None and not (log.exists() and '"epoch": 3,' in log.read_text()):
        time.sleep(0.2)
    (job,) = queued()
    subprocess.run(["scancel", "--signal=USR2", job], check=True)  # what Slurm sends before preempting
    output, _ = run.communicate(timeout=300)
    assert run.returncode == 0, output[-3000:]
    text = log.read_text()
    assert "resuming after epoch" in text, text[-2000:]
    resumed_from = int(text.split("resuming after epoch ")[1].split()[0])
    assert resumed_from >= 3  # not from scratch
    epochs = [json.loads(line)["epoch"] for line in
              (workdir / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "train" / "epochs.jsonl").read_text().splitlines()]
    assert epochs == list(range(1, 41))
    print(f"preempted after epoch >= 3, resumed after epoch {resumed_from}; epochs redone: "
          f"{sum(1 for l in text.splitlines() if l.startswith('{')) - (40 - resumed_from)}")


def test_interrupting_snakemake_cancels_every_job_it_submitted(cluster, tmp_path):
    workdir = new_workdir(tmp_path / "interrupt", one_cell(epochs=1000))
    config = one_cell(epochs=1000)
    config["experiment"]["train_languages"] = ["hau", "luo"]
    set_config(workdir, config)
    run = start_on_slurm(workdir)
    deadline = time.time() + 120
    while time.time() < deadline and run.poll() is None and len(queued()) < 2:
        time.sleep(0.2)
    assert len(queued()) == 2
    run.send_signal(signal.SIGINT)  # Ctrl-C, most likely while Snakemake logs the second submission
    try:
        output, _ = run.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        output, _ = run.communicate()
        pytest.fail(f"Snakemake went on after Ctrl-C:\n{output[-3000:]}")
    assert "Terminating processes on user request" in output, output[-3000:]
    deadline = time.time() + 30
    while time.time() < deadline and queued():
        time.sleep(0.5)
    assert queued() == []


def test_without_accounting_an_outage_is_ridden_out_and_a_failure_is_reported_with_its_log(tmp_path):
    start_cluster("no-accounting")
    try:
        assert subprocess.run(["sacct", "-n"], capture_output=True).returncode != 0  # accounting is really off
        workdir = new_workdir(tmp_path / "no-accounting", one_cell(epochs=1))
        output = run_through_an_outage(workdir, ("slurmctld",))
        assert output.count("as Slurm job") == 1 and "answers status queries again" in output, output[-3000:]
        assert (workdir / "results" / "zero_shot.csv").exists()

        test = workdir / "data" / "hau" / "test.txt"
        test.write_text(test.read_text() + "\nAbuja B-NOPE\n")
        started = time.perf_counter()
        result = on_slurm(workdir, "results/zero_shot.csv", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        job = re.search(r"as Slurm job (\d+)", output).group(1)
        # the group's failure reaches the user: Slurm id, state, log path and the failed job's own error
        assert re.search(f"Error in group finetune@mini/hau/base: Slurm job {job} ended (FAILED|RESULT_ERROR). Log "
                         f"logs/slurm/finetune/mini/hau/base/1/hau/{job}_0_log.out", output), output[-3000:]
        assert "data/hau/test.txt:" in output and "got 'B-NOPE'" in output, output[-3000:]
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
    assert f"Using profile {profile}" in output
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
