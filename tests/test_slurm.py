"""The workflow on a real one-node Slurm cluster through the submitit executor plugin.

tests/slurm/start.sh installs Debian's Slurm if needed and starts the cluster (with slurmdbd
accounting, or without); these tests then run `snakemake --profile slurm` against it. They are
slow and need root; in CI (CI=true) a cluster that cannot start is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import CONFIG, REPO, make_mini_corpus, set_config, snakemake, snakemake_command

pytestmark = [pytest.mark.slow, pytest.mark.slurm]
SCRIPTS = REPO / "tests" / "slurm"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
# Small allocations, so that the one test node runs several jobs at once.
RESOURCES = ["--default-resources", "mem_mb=500", "runtime=10",
             "--set-resources", "train:mem_mb=800", "train:runtime=10", "evaluate:gpus=0"]


def start_cluster(mode: str) -> None:
    result = subprocess.run(["bash", str(SCRIPTS / "start.sh"), f"--{mode}"], capture_output=True, text=True)
    if result.returncode != 0:
        message = f"the test Slurm cluster did not start:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        if os.environ.get("CI") or os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    for line in result.stdout.splitlines():
        if line.startswith("export SLURM_CONF="):
            os.environ["SLURM_CONF"] = line.split("=", 1)[1].strip().strip('"')


@pytest.fixture(scope="module")
def cluster():
    start_cluster("accounting")
    yield
    start_cluster("accounting")  # leave it as found by the next module


def on_slurm(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return snakemake(workdir, *args, "--profile", str(PROFILE), *RESOURCES, check=check)  # RESOURCES take all that follow


def start_on_slurm(workdir: Path) -> subprocess.Popen:
    """`snakemake --profile slurm` in the background, in its own session (as a user's terminal would be)."""
    command = snakemake_command(workdir, "results/zero_shot.csv", "--profile", str(PROFILE), *RESOURCES)
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
    assert len(submitted) == 4  # one allocation per fine-tuned model, its evaluations included
    for table in ("zero_shot.csv", "zero_shot_std.csv", "zero_shot_PER.csv", "in_language.csv", "cells.csv"):
        assert (workdir / "results" / table).read_text() == (local_run / "results" / table).read_text(), table
    logs = sorted(p.relative_to(workdir) for p in (workdir / "logs" / "slurm").rglob("*_log.out"))
    assert Path("logs/slurm/finetune/mini/hau/base/seed1") in [p.parent for p in logs], logs


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
    run.send_signal(signal.SIGINT)  # Ctrl-C
    run.communicate(timeout=120)
    deadline = time.time() + 30
    while time.time() < deadline and queued():
        time.sleep(0.5)
    assert queued() == []


def test_without_accounting_a_run_completes_and_a_failure_is_reported(tmp_path):
    start_cluster("no-accounting")
    try:
        assert subprocess.run(["sacct", "-n"], capture_output=True).returncode != 0  # accounting is really off
        workdir = new_workdir(tmp_path / "no-accounting", one_cell(epochs=1))
        on_slurm(workdir, "results/zero_shot.csv")
        assert (workdir / "results" / "zero_shot.csv").exists()

        test = workdir / "data" / "hau" / "test.txt"
        test.write_text(test.read_text() + "\nAbuja B-NOPE\n")
        started = time.perf_counter()
        result = on_slurm(workdir, "results/zero_shot.csv", check=False)
        output = result.stdout + result.stderr
        assert result.returncode != 0
        assert "Slurm job" in output and "ended" in output, output[-3000:]
        assert time.perf_counter() - started < 240
    finally:
        start_cluster("accounting")


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
