"""Warm starts: jobs handed to a server that has imported torch give the same results, and die with their job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TINY_TRAINING
from nertransfer.experiment import layout


@pytest.fixture
def server(tmp_path):
    socket_path = tmp_path / "socket"
    process = subprocess.Popen([sys.executable, "-m", "nertransfer", "warm-server", "--socket", str(socket_path),
                                "--idle-seconds", "60"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while not socket_path.exists() and time.time() < deadline:
        time.sleep(0.05)
    yield socket_path
    process.terminate()
    process.wait(timeout=10)
    assert not socket_path.exists()


def nertransfer(*args, socket=None, **options):
    env = {k: v for k, v in os.environ.items() if k != "NERTRANSFER_WARM_SOCKET"}
    if socket:
        env["NERTRANSFER_WARM_SOCKET"] = str(socket)
    return subprocess.run([sys.executable, "-m", "nertransfer", *map(str, args)], env=env, capture_output=True, text=True,
                          **options)


def train_args(checkpoint, corpus, output):
    return ["train", "--checkpoint", checkpoint, "--train", corpus / "hau" / "train.txt", "--dev", corpus / "hau" / "dev.txt",
            "--hyperparameters", json.dumps({**TINY_TRAINING, "epochs": 1}), "--threads", "1", "--output", output]


def test_a_warm_job_gives_the_same_results_as_a_cold_one(server, tmp_path, tiny_checkpoint, mini_corpus):
    cold = nertransfer(*train_args(tiny_checkpoint, mini_corpus, tmp_path / "cold"))
    warm = nertransfer(*train_args(tiny_checkpoint, mini_corpus, tmp_path / "warm"), socket=server)
    assert cold.returncode == warm.returncode == 0, warm.stderr
    assert '"epoch": 1' in warm.stdout  # the job's own stdout received the child's output
    assert (tmp_path / "warm" / "dev_metrics.json").read_text() == (tmp_path / "cold" / "dev_metrics.json").read_text()

    test = mini_corpus / "luo" / "test.txt"
    for name, socket in (("cold", None), ("warm", server)):
        result = nertransfer("evaluate", "--model", tmp_path / "cold" / "model", "--test", test, "--max-length", "32",
                             "--predictions", tmp_path / f"{name}.conll", "--metrics", tmp_path / f"{name}.json", socket=socket)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "warm.conll").read_text() == (tmp_path / "cold.conll").read_text()


def test_a_failing_warm_job_reports_its_error_and_status(server, tmp_path):
    result = nertransfer("evaluate", "--model", tmp_path, "--test", tmp_path / "missing.txt", "--predictions",
                         tmp_path / "p", "--metrics", tmp_path / "m", socket=server)
    assert result.returncode == 1
    assert "missing.txt: file not found" in result.stderr


def kill_a_fine_tune_at_work(socket, output: Path, tiny_checkpoint, mini_corpus, epochs: int) -> None:
    """Start a fine-tune through `socket`, SIGKILL the job's process once it has saved a state, and check
    that the state stops changing: nothing trains on for a job nobody waits for."""
    env = {**os.environ, "NERTRANSFER_WARM_SOCKET": str(socket)}
    args = train_args(tiny_checkpoint, mini_corpus, output)
    args[args.index("--hyperparameters") + 1] = json.dumps({**TINY_TRAINING, "epochs": epochs})
    job = subprocess.Popen([sys.executable, "-m", "nertransfer", *map(str, args)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert job.stdout.readline().startswith('{"epoch": 1')  # the work is under way
    state = layout.state_dir(output) / layout.RESUME_FILE
    while not state.exists():
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait()
    time.sleep(1.0)
    saved = state.stat().st_mtime
    time.sleep(2.0)  # an epoch takes well under a second: a live fine-tune would have saved again
    assert state.stat().st_mtime == saved


def test_killing_a_warm_job_kills_its_work(server, tmp_path, tiny_checkpoint, mini_corpus):
    kill_a_fine_tune_at_work(server, tmp_path / "killed", tiny_checkpoint, mini_corpus, epochs=50)
    assert not (tmp_path / "killed").exists()


def test_without_a_server_commands_run_in_their_own_process(tmp_path):
    result = nertransfer("evaluate", "--model", tmp_path, "--test", tmp_path / "missing.txt", "--predictions",
                         tmp_path / "p", "--metrics", tmp_path / "m", socket=tmp_path / "no-such-socket")
    assert result.returncode == 1 and "missing.txt: file not found" in result.stderr


def test_a_warm_job_asked_to_stop_passes_it_on_and_its_fine_tune_saves_its_state(server, tmp_path, tiny_checkpoint, mini_corpus):
    env = {**os.environ, "NERTRANSFER_WARM_SOCKET": str(server)}
    args = train_args(tiny_checkpoint, mini_corpus, tmp_path / "stopped")
    args[args.index("--hyperparameters") + 1] = json.dumps({**TINY_TRAINING, "epochs": 50})
    args += ["--save-state-every-seconds", "3600"]  # only a stop request saves the state
    job = subprocess.Popen([sys.executable, "-m", "nertransfer", *map(str, args)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert job.stdout.readline().startswith('{"epoch": 1')
    job.send_signal(signal.SIGTERM)
    _, errors = job.communicate(timeout=60)
    assert job.returncode != 0 and "stopped by signal 15" in errors, errors
    assert (tmp_path / "stopped.state" / "resume.pt").exists() and not (tmp_path / "stopped").exists()


def test_a_stopped_server_leaves_no_folder_behind(tmp_path):
    from nertransfer.runtime.warm import SOCKET_VARIABLE, WarmServer

    server = WarmServer.start(tmp_path / "warm.log")
    try:
        assert (server.folder / "socket").exists() and os.environ[SOCKET_VARIABLE] == str(server.folder / "socket")
    finally:
        server.stop()
    assert not server.folder.exists() and SOCKET_VARIABLE not in os.environ


def test_a_server_whose_starter_died_stops_its_jobs_and_exits(tmp_path, tiny_checkpoint, mini_corpus):
    """kill -9 of Snakemake: the server (its child) sees it and asks its fine-tunes to stop, as on Ctrl-C."""
    starter = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from nertransfer.runtime.warm import WarmServer;"
        f"s = WarmServer.start({str(tmp_path / 'warm.log')!r}); print(s.folder / 'socket', s.process.pid, flush=True);"
        "time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    socket_path, server_pid = starter.stdout.readline().split()
    args = train_args(tiny_checkpoint, mini_corpus, tmp_path / "orphan")
    args[args.index("--hyperparameters") + 1] = json.dumps({**TINY_TRAINING, "epochs": 50})
    args += ["--save-state-every-seconds", "3600"]
    job = subprocess.Popen([sys.executable, "-m", "nertransfer", *map(str, args)],
                           env={**os.environ, "NERTRANSFER_WARM_SOCKET": socket_path},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert job.stdout.readline().startswith('{"epoch": 1')
    starter.kill()
    starter.wait()
    _, errors = job.communicate(timeout=60)
    assert "stopped by signal 15" in errors, errors
    assert (tmp_path / "orphan.state" / "resume.pt").exists()
    deadline = time.time() + 30
    while time.time() < deadline and os.path.exists(f"/proc/{server_pid}"):
        with open(f"/proc/{server_pid}/stat") as stat:
            if stat.read().split(") ")[1].startswith("Z"):
                break
        time.sleep(0.1)
    assert not os.path.exists(socket_path)


@pytest.fixture
def workers(tmp_path):
    """A server in reuse mode with one long-lived worker, as an allocation on a cluster node starts it."""
    from nertransfer.runtime.warm import WarmServer

    server = WarmServer.start(tmp_path / "workers.log", slots=1, reuse=True)
    yield server.folder / "socket"
    server.stop()


def test_a_cell_trained_by_a_worker_after_other_jobs_gives_the_model_of_a_fresh_process(workers, tmp_path, tiny_checkpoint,
                                                                                         mini_corpus):
    """Results must not depend on where a fine-tune runs: alone in a process, or third in a long-lived worker."""
    other = train_args(tiny_checkpoint, mini_corpus, tmp_path / "other")
    other[other.index("--hyperparameters") + 1] = json.dumps({**TINY_TRAINING, "epochs": 1, "seed": 7, "learning_rate": 0.02})
    assert nertransfer(*other, socket=workers).returncode == 0
    test = mini_corpus / "luo" / "test.txt"
    assert nertransfer("evaluate", "--model", tmp_path / "other" / "model", "--test", test, "--predictions",
                       tmp_path / "other.conll", "--metrics", tmp_path / "other.json", socket=workers).returncode == 0
    packed = nertransfer(*train_args(tiny_checkpoint, mini_corpus, tmp_path / "packed"), socket=workers)
    alone = nertransfer(*train_args(tiny_checkpoint, mini_corpus, tmp_path / "alone"))
    assert packed.returncode == alone.returncode == 0, packed.stderr
    assert '"epoch": 1' in packed.stdout  # the job's own stdout got the worker's output
    for name in ("model/model.safetensors", "dev_metrics.json", "model/config.json"):
        assert (tmp_path / "packed" / name).read_bytes() == (tmp_path / "alone" / name).read_bytes(), name
    for name, socket in (("packed", workers), ("alone", None)):
        nertransfer("evaluate", "--model", tmp_path / "packed" / "model", "--test", test, "--predictions",
                    tmp_path / f"{name}.conll", "--metrics", tmp_path / f"{name}.json", socket=socket)
    assert (tmp_path / "packed.conll").read_text() == (tmp_path / "alone.conll").read_text()
    assert "missing.txt: file not found" in nertransfer("evaluate", "--model", tmp_path, "--test", tmp_path / "missing.txt",
                                                        "--predictions", tmp_path / "p", "--metrics", tmp_path / "m",
                                                        socket=workers).stderr  # an error leaves the worker serving


def test_the_slurm_profiles_allocation_service_starts_workers_that_serve_and_stop_on_sigterm(tmp_path):
    """The command the executor runs in each allocation (workflow/profiles/slurm: submitit-allocation-service), with
    the socket and CPUs it fills in: jobs announced in the variable the profile names run in its workers, and the
    SIGTERM that stops it at the allocation's end leaves no socket behind."""
    import shlex

    import yaml

    from conftest import PROFILE

    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    socket_path = tmp_path / "socket"
    command = profile["submitit-allocation-service"].replace("{socket}", shlex.quote(str(socket_path))).replace("{cpus}", "1")
    bin_folder = str(Path(sys.executable).parent)  # where the workflow puts the package's console script on PATH
    service = subprocess.Popen(["bash", "-c", command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}"})
    try:
        deadline = time.time() + 30
        while not socket_path.exists() and time.time() < deadline and service.poll() is None:
            time.sleep(0.05)
        result = subprocess.run([sys.executable, "-m", "nertransfer", "evaluate", "--model", tmp_path, "--test",
                                 tmp_path / "missing.txt", "--predictions", tmp_path / "p", "--metrics", tmp_path / "m"],
                                env={**os.environ, profile["submitit-allocation-service-env"]: str(socket_path)},
                                capture_output=True, text=True)
        assert result.returncode == 1 and "missing.txt: file not found" in result.stderr
    finally:
        service.terminate()
        output, _ = service.communicate(timeout=60)
    assert "long-lived workers, 1 at once" in output and "runs nertransfer evaluate" in output, output
    assert not socket_path.exists()


def test_killing_a_job_run_by_a_worker_stops_its_work_and_another_worker_takes_over(workers, tmp_path, tiny_checkpoint,
                                                                                     mini_corpus):
    kill_a_fine_tune_at_work(workers, tmp_path / "killed", tiny_checkpoint, mini_corpus, epochs=500)
    again = nertransfer(*train_args(tiny_checkpoint, mini_corpus, tmp_path / "next"), socket=workers)
    assert again.returncode == 0 and (tmp_path / "next" / "dev_metrics.json").exists()


def test_at_most_slots_jobs_run_at_once_and_the_others_wait_their_turn(tmp_path, tiny_checkpoint, mini_corpus):
    """`snakemake -j4` on fewer cores: the server runs no more jobs at once than it has slots (CPUs)."""
    from nertransfer.runtime.warm import WarmServer

    server = WarmServer.start(tmp_path / "warm.log", slots=1)
    try:
        env = {**os.environ, "NERTRANSFER_WARM_SOCKET": str(server.folder / "socket")}
        jobs = []
        for name in ("first", "second"):
            args = train_args(tiny_checkpoint, mini_corpus, tmp_path / name)
            args[args.index("--hyperparameters") + 1] = json.dumps({**TINY_TRAINING, "epochs": 3})
            jobs.append(subprocess.Popen([sys.executable, "-m", "nertransfer", *map(str, args)], env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        assert [job.wait(timeout=300) for job in jobs] == [0, 0]
    finally:
        server.stop()
    spans = [((tmp_path / n / "train_config.json").stat().st_mtime,
              json.loads((tmp_path / n / "train_config.json").read_text())["seconds"])
             for n in ("first", "second")]
    (end_a, took_a), (end_b, took_b) = sorted(spans)
    assert end_b - took_b >= end_a - 0.5  # the later one started when the earlier one had ended


def test_folders_of_servers_that_died_are_removed_when_a_server_starts(tmp_path):
    """A requeued or cancelled allocation leaves its folder with a dead socket: the next start removes it, and
    leaves a live server's folder, and a young one still waiting for its socket, alone."""
    import socket
    import time

    from nertransfer.runtime.warm import NEW_FOLDER_SECONDS, remove_dead_folders

    dead = tmp_path / "nertransfer-warm-dead"
    dead.mkdir()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(dead / "socket"))
    listener.close()  # the socket file stays, nobody listens: a killed server's
    live = tmp_path / "nertransfer-warm-live"
    live.mkdir()
    serving = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    serving.bind(str(live / "socket"))
    serving.listen(1)
    young, old = tmp_path / "nertransfer-warm-young", tmp_path / "nertransfer-warm-old"
    young.mkdir()
    old.mkdir()
    os.utime(old, (time.time() - NEW_FOLDER_SECONDS - 5,) * 2)
    other = tmp_path / "something-else"
    other.mkdir()
    try:
        assert sorted(remove_dead_folders(tmp_path)) == [dead, old]
        assert live.exists() and young.exists() and other.exists() and not dead.exists() and not old.exists()
    finally:
        serving.close()
