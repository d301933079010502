"""`nertransfer status`: each cell's state read from what a real run left, while it runs and after."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

from conftest import CONFIG, REPO, set_config

pytestmark = pytest.mark.slow


def status(workdir, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nertransfer", "status", "--configfile", str(workdir / "config.yaml"),
                           "-d", str(workdir), *map(str, args)], capture_output=True, text=True, env=env)


def states(workdir, env=None) -> dict[str, tuple[str, str, str]]:
    import csv

    result = status(workdir, "--csv", "-", env=env)
    assert result.returncode == 0, result.stderr
    rows = csv.DictReader(result.stdout.splitlines())
    return {f"{r['row']}/seed{r['seed']}": (r["state"], r["detail"], r["log"]) for r in rows}


@pytest.fixture
def copy(local_run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(local_run, target, symlinks=True)
    return target


def test_a_finished_run_is_done_and_a_change_shows_what_it_invalidates(copy):
    assert set(states(copy).values()) == {("done", "evaluated on 2", "")}
    test = copy / "data" / "luo" / "test.txt"
    test.write_text(test.read_text() + "\nJii O\n")
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["checkpoints"]["mini-b"]["training"]["learning_rate"] = 0.001
    set_config(copy, config)
    found = states(copy)
    assert found["mini-b/hau/base/seed1"][:2] == ("invalidated", "settings changed")
    assert found["mini/hau/base/seed1"][:2] == ("invalidated", "test data of luo changed (data/luo/test.txt)")


def test_a_running_fine_tune_shows_its_epoch_and_a_killed_one_its_log(copy):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["experiment"]["seeds"] = [1, 2]
    config["checkpoints"]["mini"]["training"]["epochs"] = 5000  # killed long before
    set_config(copy, config)
    run = subprocess.Popen([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(copy),
                            f"--configfile={copy / 'config.yaml'}", "-j1", "--until", "train"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline, found = time.time() + 120, {}
        while time.time() < deadline:
            found = states(copy)
            if any(state == "running" and "dev F1" in detail for state, detail, _ in found.values()):
                break
            time.sleep(0.5)
        running = [cell for cell, (state, detail, _) in found.items() if state == "running"]
        # one of mini's cells trains (5000 epochs: it runs to the end of the test), in whatever order Snakemake
        # picks; with -j1 every other mini cell of the new seed waits, and the done cells of the other start stay done
        assert len(running) == 1 and running[0].startswith("mini/") and "dev F1" in found[running[0]][1], found
        assert found[running[0]][2].endswith(f"logs/train/{running[0]}.log")
        waiting = [cell for cell in found if cell.startswith("mini/") and cell.endswith("/seed2") and cell != running[0]]
        assert waiting and all(found[cell][0] == "not started" for cell in waiting), found
        assert found["mini-b/hau/base/seed1"][0] == "done"
        started = time.perf_counter()
        human = status(copy)
        assert human.returncode == 0 and "\033[" not in human.stdout  # plain when piped
        assert time.perf_counter() - started < 10
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    time.sleep(1)
    found = states(copy)
    killed = [cell for cell, (state, _, _) in found.items() if state == "failed"]
    assert killed == running and found[killed[0]][1].startswith("stopped after epoch"), found
    # Snakemake killed with -9 leaves its lock of the folder: the next run would refuse to start
    assert "run `snakemake --unlock` (with the same options) before the next run" in status(copy).stderr


def test_a_queued_cell_is_read_from_the_slurm_queue_and_the_matrix_is_written_as_csv_html_and_png(copy, tmp_path):
    from nertransfer.experiment.config import load_experiment, read_config
    from nertransfer.runtime.status import CellState, ClusterQueue, QueuedJob, matrix_status
    from nertransfer.runtime.status_views import terminal, write_html, write_png

    config = read_config(REPO, [copy / "config.yaml"])
    config["experiment"]["seeds"] = [1, 2]
    os.chdir(copy)
    experiment = load_experiment(config, copy, REPO)
    queue = ClusterQueue((QueuedJob("41", "PENDING", False, {"row": "mini/hau/base"}), QueuedJob("42", "RUNNING", True)),
                         scheduler="Slurm")
    rows = matrix_status(experiment, copy, queue=queue)
    assert rows["mini/hau/base"][2] == CellState("queued", "Slurm: pending") and rows["mini/luo/base"][2].state == "not started"
    assert "\033[" in terminal(rows, colour=True) and "✓ done 4" in terminal(rows, colour=False)
    write_html(rows, tmp_path / "status.html")
    write_png(rows, tmp_path / "status.png")
    assert "queued" in (tmp_path / "status.html").read_text()
    assert (tmp_path / "status.png").read_bytes()[:4] == b"\x89PNG"


# -- status and the workflow judge a damaged work folder alike -------------------------------------

RUN = "work/runs"


def older(path, than):
    """Give `path` the modification time of `than` minus a minute: an edit that file times cannot see (made while
    the job that read the file was still running, so its outputs are newer)."""
    stamp = (than.stat().st_mtime - 60,) * 2
    os.utime(path, stamp)


def edit_data(copy, language, split):
    path = copy / "data" / language / f"{split}.txt"
    path.write_text(path.read_text().replace("B-PER", "O").replace("I-PER", "O"))
    older(path, copy / RUN / "mini" / language / "base" / "seed1" / "train")


def write_marker(copy, output):
    """Snakemake's own marker of an output whose job started and did not finish (as a Ctrl-C leaves it)."""
    import base64

    marker = copy / ".snakemake" / "incomplete" / base64.urlsafe_b64encode(output.encode()).decode()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text('{"external_jobid": null}')


def move_work_folder(copy):
    """The whole work folder moved (to a path with a space) and the config pointed at it by absolute path."""
    (copy / "work").rename(copy / "moved work")
    set_config(copy, {**CONFIG, "work_dir": str(copy / "moved work")})


DAMAGE = {  # what is done to a finished run -> the state status must give each cell it touches
    "training data edited during its fine-tune": (lambda c: edit_data(c, "hau", "train"),
                                                  {"mini/hau", "mini-b/hau"}, "invalidated", "training data changed"),
    "dev data edited during its fine-tune": (lambda c: edit_data(c, "luo", "dev"),
                                             {"mini/luo", "mini-b/luo"}, "invalidated", "dev data changed"),
    "test data edited during its evaluation": (
        lambda c: (c.joinpath("data/hau/test.txt").write_text(c.joinpath("data/hau/test.txt").read_text().replace("B-LOC", "O")),
                   older(c / "data/hau/test.txt", c / RUN / "mini/hau/base/seed1/eval/hau/metrics.json")),
        {"mini/hau", "mini/luo", "mini-b/hau", "mini-b/luo"}, "invalidated", "test data of hau changed"),
    "a metrics.json that is not JSON": (lambda c: c.joinpath(RUN, "mini/hau/base/seed1/eval/luo/metrics.json").write_text("{"),
                                        {"mini/hau"}, "failed", "not valid JSON"),
    "an empty metrics.json object": (lambda c: c.joinpath(RUN, "mini-b/luo/base/seed1/eval/hau/metrics.json").write_text("{}"),
                                     {"mini-b/luo"}, "failed", "lacks 'checkpoint'"),
    "a deleted metrics.json": (lambda c: c.joinpath(RUN, "mini/luo/base/seed1/eval/luo/metrics.json").unlink(),
                               {"mini/luo"}, "not started", "evaluated on 1 of 2"),
    "a deleted train_config.json": (lambda c: c.joinpath(RUN, "mini-b/hau/base/seed1/train/train_config.json").unlink(),
                                    {"mini-b/hau"}, "failed", "train_config.json: missing"),
    "outputs of an interrupted fine-tune": (lambda c: write_marker(c, f"{RUN}/mini/luo/base/seed1/train"),
                                            {"mini/luo"}, "failed", "interrupted"),
    "a stale lock of a killed evaluation": (
        lambda c: c.joinpath(RUN, "mini/hau/base/seed1/eval/hau/lock").write_text(f"pid 999999 on {socket.gethostname()}\n"),
        set(), "done", ""),
    "the work folder moved": (move_work_folder, set(), "done", ""),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_status_and_a_dry_run_agree_on_every_cell_of_a_damaged_work_folder(copy, damage):
    """A cell is done for status exactly when `snakemake -n` plans no job of it, whatever was damaged, and each
    damaged cell says why."""
    from conftest import plan

    do, touched, state, why = DAMAGE[damage]
    do(copy)
    found = states(copy)  # before the dry run, which sets damaged records aside
    planned = {re.search(r"row=([^,]+), seed=(\d+)", w).expand(r"\1/seed\2") for rule, w in plan(copy)
               if rule in ("train", "evaluate", "card", "share_fine_tune", "share_evaluation")}
    for cell, (cell_state, detail, _) in found.items():
        assert (cell_state == "done") == (cell not in planned), (damage, cell, found[cell], sorted(planned))
        if cell.rsplit("/", 2)[0] in touched:
            assert cell_state == state and why in detail, (damage, cell, found[cell])
        else:
            assert cell_state == "done", (damage, cell, found[cell])


def test_a_failed_fine_tune_says_which_epoch_its_saved_state_resumes_after(copy):
    """A full disk failed the state save of epoch 2: the log reached epoch 2, the saved state is epoch 1's."""
    cell = copy / RUN / "mini" / "hau" / "base" / "seed1"
    shutil.rmtree(cell / "train")
    (cell / "train.state").mkdir()
    (cell / "train.state" / "state.json").write_text('{"epoch": 1, "of": 3}')
    log = copy / "work" / "logs" / "train" / "mini" / "hau" / "base" / "seed1.log"
    log.write_text('{"epoch": 1, "of": 3}\n{"epoch": 2, "of": 3}\nOSError: [Errno 28] No space left on device\n')
    state, detail, shown = states(copy)["mini/hau/base/seed1"]
    assert (state, detail) == ("failed", "stopped after epoch 2; resumes after epoch 1 (its saved state)")
    assert shown.endswith("seed1.log")
    # a state saved from other content of the training file is not resumed, and status does not say it is
    (cell / "train.state" / "state.json").write_text('{"epoch": 1, "of": 3, "train_sha256": "' + "0" * 64 + '"}')
    assert states(copy)["mini/hau/base/seed1"][:2] == ("failed", "stopped after epoch 2")


@pytest.mark.slurm
def test_only_slurm_jobs_of_this_run_folder_are_read_as_its_cells(copy, cluster, tmp_path):
    """A second clone's job of the same name is not this run's; one in this folder is."""
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["experiment"]["seeds"] = [1, 2]
    set_config(copy, config)
    elsewhere = tmp_path / "another clone"
    elsewhere.mkdir()
    submitted = []
    try:
        for folder in (elsewhere, copy):
            out = subprocess.run(["sbatch", "--hold", "--parsable", "--job-name", "finetune:row=mini/hau/base",
                                  "--chdir", str(folder),
                                  "--output", "/dev/null", "--wrap", "sleep 60"], capture_output=True, text=True, check=True)
            submitted.append(out.stdout.strip().split(";")[0])
            found = states(copy)
            expected = "not started" if folder == elsewhere else "queued"
            assert found["mini/hau/base/seed2"][0] == expected, (folder, found["mini/hau/base/seed2"])
            assert found["mini/hau/base/seed1"][0] == "done" and found["mini/luo/base/seed2"][0] == "not started"
    finally:
        subprocess.run(["scancel", *submitted], check=False)


def on_path(folder, squeue: str | None) -> dict:
    """An environment whose PATH holds only `folder`, with a `squeue` that runs `squeue` (None: no Slurm here)."""
    folder.mkdir()
    if squeue is not None:
        (folder / "squeue").write_text(f"#!/bin/sh\nPATH=/usr/bin:/bin\n{squeue}\n")
        (folder / "squeue").chmod(0o755)
    return {**os.environ, "PATH": str(folder)}


def test_status_learns_the_queues_cells_from_the_executor_plugin(copy, tmp_path):
    """The queue comes from `python -m snakemake_executor_plugin_submitit queue` (a fake squeue under it): a job of this
    folder named for a row queues every seed of it that is not done, one named for a row and seed that cell alone;
    a job of another folder, or of a name the executor did not give, queues nothing."""
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["experiment"]["seeds"] = [1, 2, 3]
    set_config(copy, config)
    lines = [f"41|PENDING|{copy}|finetune:row=mini/hau/base", f"42|REQUEUED|{copy}|finetune:row=mini/luo/base,seed=3",
             f"43|PENDING|{tmp_path}|finetune:row=mini-b/hau/base", f"44|PENDING|{copy}|finetune:mini-b/luo/base"]
    found = states(copy, env=on_path(tmp_path / "bin", "cat <<'END'\n" + "\n".join(lines) + "\nEND"))
    assert found["mini/hau/base/seed1"][0] == "done"  # done stays done, whatever the queue holds
    assert found["mini/hau/base/seed2"][:2] == found["mini/hau/base/seed3"][:2] == ("queued", "Slurm: pending")
    assert found["mini/luo/base/seed3"][:2] == ("queued", "Slurm: requeued")
    assert found["mini/luo/base/seed2"][0] == "not started"
    assert {found[f"mini-b/{language}/base/seed{seed}"][0] for language in ("hau", "luo") for seed in (2, 3)} == {"not started"}


def test_without_slurm_status_shows_an_empty_queue_and_says_when_slurm_did_not_answer(copy, tmp_path):
    quiet = status(copy, env=on_path(tmp_path / "none", None))
    assert quiet.returncode == 0 and "did not answer" not in quiet.stderr, quiet.stderr
    down = status(copy, env=on_path(tmp_path / "down", "echo 'squeue: error: Unable to contact slurm controller' >&2; exit 1"))
    assert down.returncode == 0
    assert ("nertransfer status: note: Slurm did not answer (squeue exited 1: squeue: error: Unable to contact slurm "
            "controller): cells queued or running on the cluster show as not started") in down.stderr, down.stderr
