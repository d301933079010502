"""`nertransfer status`: each cell's state read from what a real run left, while it runs and after."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import CONFIG, REPO, set_config

pytestmark = pytest.mark.slow


def status(workdir, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nertransfer", "status", "--configfile", str(workdir / "config.yaml"),
                           "-d", str(workdir), *map(str, args)], capture_output=True, text=True)


def states(workdir) -> dict[str, tuple[str, str, str]]:
    import csv

    result = status(workdir, "--csv", "-")
    assert result.returncode == 0, result.stderr
    return {f"{r['row']}/seed{r['seed']}": (r["state"], r["detail"], r["log"]) for r in csv.DictReader(result.stdout.splitlines())}


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
    assert found["mini/hau/base/seed1"][:2] == ("invalidated", "test data of luo newer")


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


def test_a_queued_cell_is_read_from_the_slurm_queue_and_the_matrix_is_written_as_csv_html_and_png(copy, tmp_path):
    from nertransfer.config import load_experiment, read_config
    from nertransfer.status import matrix_status
    from nertransfer.status_views import terminal, write_html, write_png

    config = read_config(REPO, [copy / "config.yaml"])
    config["experiment"]["seeds"] = [1, 2]
    os.chdir(copy)
    experiment = load_experiment(config, copy, REPO)
    rows = matrix_status(experiment, copy, queue={"finetune:mini/hau/base": "PENDING", "other:job": "RUNNING"})
    assert rows["mini/hau/base"][2].state == "queued" and rows["mini/luo/base"][2].state == "not started"
    assert "\033[" in terminal(rows, colour=True) and "✓ done 4" in terminal(rows, colour=False)
    write_html(rows, tmp_path / "status.html")
    write_png(rows, tmp_path / "status.png")
    assert "queued" in (tmp_path / "status.html").read_text()
    assert (tmp_path / "status.png").read_bytes()[:4] == b"\x89PNG"
