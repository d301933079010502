"""The executor plugin's parts, run for real with submitit's local executor (no Slurm needed)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import submitit

from snakemake_executor_plugin_submitit import ExecutorSettings, common_settings
from snakemake_executor_plugin_submitit.executor import ShellCommand, _descendants, _parse_flags, _process_table
from snakemake_executor_plugin_submitit.states import ACTIVE, FAILED, SUCCEEDED, result_of


def run_locally(tmp_path, command):
    executor = submitit.LocalExecutor(folder=tmp_path)
    executor.update_parameters(timeout_min=1)
    job = executor.submit(ShellCommand(command))
    job.wait()
    return job


def test_a_shell_command_runs_and_its_success_is_read_from_submitits_result_file(tmp_path):
    job = run_locally(tmp_path, f"echo hello > {tmp_path}/out.txt")
    assert (tmp_path / "out.txt").read_text() == "hello\n"
    assert result_of(tmp_path, job.job_id) == "COMPLETED"


def test_a_failing_command_is_read_as_failed(tmp_path):
    job = run_locally(tmp_path, "echo broken >&2; exit 3")
    assert result_of(tmp_path, job.job_id) == "RESULT_ERROR"
    assert "RESULT_ERROR" in FAILED
    with pytest.raises(Exception, match="exit status 3"):
        job.result()


def test_a_job_without_a_result_file_is_unknown(tmp_path):
    assert result_of(tmp_path, "12345") is None


def test_commands_are_checkpointable_so_slurm_requeues_them():
    command = ShellCommand("true", stop_seconds=7)
    again = command.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission)
    assert (again.function.command, again.function.stop_seconds) == ("true", 7)


def test_a_checkpoint_asks_the_commands_processes_to_stop_and_waits_for_them_but_not_for_ever(tmp_path):
    """SIGTERM to the command's processes but not its shells (which would orphan their command), then a wait
    bounded by stop_seconds; processes ignore the checkpoint signal (USR2) that Slurm sends to all of them."""
    import threading

    stopping = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: (time.sleep(1), "
                f"open({str(tmp_path / 'stopped')!r}, 'w').write(str(signal.getsignal(signal.SIGUSR2))), sys.exit(0)));"
                "time.sleep(60)")
    command = ShellCommand(f"{sys.executable} -c {shlex.quote(stopping)}; echo shell-went-on > {tmp_path / 'after'}",
                           stop_seconds=20)
    runner = threading.Thread(target=command)
    runner.start()
    while command.process is None or not _descendants(command.process.pid, _process_table()):
        time.sleep(0.05)
    time.sleep(0.5)
    started = time.monotonic()
    command.checkpoint()
    assert 1 <= time.monotonic() - started < 10  # it waited for the stop
    runner.join()
    assert (tmp_path / "stopped").read_text() in ("1", "Handlers.SIG_IGN") and (tmp_path / "after").exists()

    stubborn = ShellCommand(f"{sys.executable} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                            "time.sleep(60)'; true", stop_seconds=1)
    runner = threading.Thread(target=lambda: pytest.raises(subprocess.CalledProcessError, stubborn))
    runner.start()

    def ignores_sigterm(pid):  # a SIGTERM before the child ignores it would end it, and the test would prove nothing
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return bool(int(status.split("SigIgn:")[1].split()[0], 16) & (1 << (signal.SIGTERM - 1)))

    while stubborn.process is None or not any(
            ignores_sigterm(p) for p in _descendants(stubborn.process.pid, _process_table())):
        time.sleep(0.05)
    started = time.monotonic()
    stubborn.checkpoint()
    assert time.monotonic() - started < 3
    os.killpg(stubborn.process.pid, signal.SIGKILL)
    runner.join()


def test_extra_sbatch_flags_become_submitit_parameters():
    assert _parse_flags("--exclude=node3 --requeue --comment='two words'") == {
        "exclude": "node3", "requeue": True, "comment": "two words"}
    assert _parse_flags(None) == {}


def test_states_are_partitioned():
    assert not (ACTIVE & SUCCEEDED) and not (ACTIVE & FAILED) and not (SUCCEEDED & FAILED)
    assert {"PENDING", "RUNNING", "REQUEUED", "PREEMPTED"} <= ACTIVE


def test_plugin_declares_remote_execution_with_a_shared_filesystem():
    assert common_settings.non_local_exec and not common_settings.implies_no_shared_fs
    settings = ExecutorSettings()
    assert settings.log_dir == "logs/slurm" and settings.min_poll_seconds < settings.max_poll_seconds


# -- the queue as other programs read it ------------------------------------------------------------

def test_a_job_is_named_after_the_wildcards_its_jobs_share_and_the_name_reads_back_as_them():
    from snakemake_executor_plugin_submitit.queue import job_name, wildcards_of

    assert job_name("finetune", {"row": "mini/hau/base", "seed": 1}) == "finetune:row=mini/hau/base,seed=1"
    assert wildcards_of("finetune:row=mini/hau/base,seed=1") == {"row": "mini/hau/base", "seed": "1"}
    odd = {"row": "a,b=c d%e|f", "language": "hau"}  # separators, a space, "%" and "|" survive the round trip
    name = job_name("evaluate", odd)
    assert wildcards_of(name) == odd and " " not in name and "|" not in name
    assert wildcards_of("tables:") == {}  # a job without wildcards
    for foreign in ("blocker", "finetune:mini/hau/base/1", "x:=1", "x:row=1,row=2", "x:1a=2"):
        assert wildcards_of(foreign) == {}, foreign  # not named by this executor (or by an older one)


def fake_squeue(folder, lines, status=0):
    """A `squeue` on PATH that prints `lines` (and exits `status`), for the queue's parsing without a cluster."""
    folder.mkdir(exist_ok=True)
    script = folder / "squeue"
    script.write_text("#!/bin/sh\ncat <<'END'\n" + "\n".join(lines) + "\nEND\n"
                      + (f"echo 'squeue: error: down' >&2\nexit {status}\n" if status else ""))
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def queue_command(workdir, env):
    import json

    done = subprocess.run([sys.executable, "-m", "snakemake_executor_plugin_submitit", "queue", "--workdir", str(workdir)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_queue_command_lists_the_active_jobs_of_one_working_directory_with_their_wildcards(tmp_path):
    here, elsewhere = tmp_path / "run", tmp_path / "other clone"
    here.mkdir()
    (tmp_path / "link").symlink_to(here)
    env = fake_squeue(tmp_path / "bin", [
        f"41|PENDING|{here}|finetune:row=mini/hau/base",
        f"42|RUNNING|{tmp_path / 'link'}|finetune:row=mini/luo/base,seed=2",  # the same folder by another path
        f"43|COMPLETED|{here}|finetune:row=mini/swa/base",  # finished: not queued
        f"44|PENDING|{elsewhere}|finetune:row=mini/hau/base",  # a second clone's
        f"45|PENDING|{here}|interactive|with a bar",
    ])
    report = queue_command(here, env)
    assert report["scheduler"] == "Slurm" and report["problem"] == ""
    assert report["jobs"] == [
        {"id": "41", "state": "PENDING", "running": False, "name": "finetune:row=mini/hau/base",
         "wildcards": {"row": "mini/hau/base"}},
        {"id": "42", "state": "RUNNING", "running": True, "name": "finetune:row=mini/luo/base,seed=2",
         "wildcards": {"row": "mini/luo/base", "seed": "2"}},
        {"id": "45", "state": "PENDING", "running": False, "name": "interactive|with a bar", "wildcards": {}},
    ]


def test_the_queue_command_tells_a_slurm_that_did_not_answer_from_no_slurm(tmp_path):
    failing = queue_command(tmp_path, fake_squeue(tmp_path / "bin", ["41|PENDING|/x|a:b=c"], status=1))
    assert failing["jobs"] == [] and failing["problem"].startswith("squeue exited 1: ")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert queue_command(tmp_path, {**os.environ, "PATH": str(empty)}) == {"scheduler": "Slurm", "problem": "", "jobs": []}


def test_the_queue_command_imports_nothing_of_snakemake_or_submitit():
    """The package's __init__ imports what the registry asks for only when asked: the command starts fast."""
    probe = ("import runpy, sys; sys.argv = ['x', 'queue']; runpy.run_module('snakemake_executor_plugin_submitit', "
             "run_name='__main__'); print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('snakemake', 'snakemake_interface_executor_plugins', 'snakemake_interface_common', 'submitit')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]", done.stdout


def test_snakemakes_plugin_registry_finds_the_plugin_and_its_settings():
    from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

    plugin = ExecutorPluginRegistry().get_plugin("submitit")
    assert plugin.executor.__name__ == "Executor" and plugin.common_settings.non_local_exec
    assert {"allocation_service", "allocation_service_env"} <= set(plugin.settings_cls.__dataclass_fields__)


# -- the allocation's service -------------------------------------------------------------------------

LISTENER = """
import signal, socket, sys, time
path, note = sys.argv[1], sys.argv[2]
def stop(*_):
    open(note, "w").write("stopped by SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(8)
print("listening with", sys.argv[3], "cpus", flush=True)
while True:
    connection, _ = server.accept()
    connection.sendall(b"hello")
    connection.close()
"""

ASKS_THE_SERVICE = (f"{sys.executable} -c 'import os, socket; s = socket.socket(socket.AF_UNIX); "
                    "s.connect(os.environ[\"TEST_SERVICE_SOCKET\"]); print(s.recv(5).decode())'")


def a_service(tmp_path, command=None):
    """The Service the executor makes of a profile's `allocation-service` for a job of 3 CPUs."""
    from types import SimpleNamespace

    from snakemake_executor_plugin_submitit.executor import Executor

    (tmp_path / "listener.py").write_text(LISTENER)
    command = command or f"{sys.executable} {tmp_path / 'listener.py'} {{socket}} {tmp_path / 'note'} {{cpus}}"
    settings = ExecutorSettings(allocation_service=command, allocation_service_env="TEST_SERVICE_SOCKET")
    return Executor.service(SimpleNamespace(settings=settings), tmp_path / "logs", 3)


def test_a_command_runs_beside_its_allocation_service_which_stops_when_it_ends(tmp_path):
    service = a_service(tmp_path)
    assert "{cpus}" not in service.command and "{socket}" in service.command  # the socket is the node's to choose
    executor = submitit.LocalExecutor(folder=tmp_path / "submitit")
    executor.update_parameters(timeout_min=1)
    job = executor.submit(ShellCommand(f"{ASKS_THE_SERVICE} > {tmp_path / 'answer'}", service=service))
    job.wait()
    assert result_of(tmp_path / "submitit", job.job_id) == "COMPLETED", job.stderr()
    assert (tmp_path / "answer").read_text() == "hello\n"  # the command found the service through its variable
    assert (tmp_path / "note").read_text() == "stopped by SIGTERM"  # asked to stop once the command had ended
    (log,) = (tmp_path / "logs").glob("*_service.log")
    assert log.name == f"{job.job_id}_service.log" and "listening with 3 cpus" in log.read_text()
    socket_path = re.search(r"starting the allocation service: \S+ \S+ (\S+)", log.read_text()).group(1)
    assert "/submitit-service-" in socket_path and not os.path.exists(os.path.dirname(socket_path))  # removed


def test_a_service_that_ends_at_once_leaves_its_command_to_run_without_it(tmp_path):
    service = a_service(tmp_path, command="echo cannot listen on {socket}; exit 3")
    command = ShellCommand(f"echo ${{TEST_SERVICE_SOCKET:-unset}} > {tmp_path / 'seen'}", service=service)
    command()
    assert (tmp_path / "seen").read_text() == "unset\n"  # no socket to look for
    assert "cannot listen on /" in next((tmp_path / "logs").glob("*_service.log")).read_text()


def test_a_checkpoint_stops_the_commands_processes_then_the_service(tmp_path):
    import threading

    service = a_service(tmp_path)
    command = ShellCommand(f"{ASKS_THE_SERVICE}; sleep 60; true", stop_seconds=20, service=service)
    runner = threading.Thread(target=command)  # the shell goes on after its sleep was stopped: it ends well
    runner.start()

    def sleeping():
        table = _process_table()
        return command.process is not None and any(table[p][1] == "sleep" for p in _descendants(command.process.pid, table))

    while not sleeping():  # the command has asked the service, and waits
        time.sleep(0.05)
    again = command.checkpoint()
    assert (tmp_path / "note").read_text() == "stopped by SIGTERM" and not command.running_service.running
    assert not command.running_service.folder.exists()
    assert again.function.service == service  # the requeued attempt starts its own
    runner.join(timeout=30)
    assert not runner.is_alive()


def test_folders_of_services_whose_job_died_are_removed_when_a_service_starts(tmp_path):
    import socket

    from snakemake_executor_plugin_submitit.service import NEW_FOLDER_SECONDS, remove_dead_folders

    def folder(name, owner=None, age=0.0):
        path = tmp_path / f"submitit-service-{name}"
        path.mkdir()
        if owner:
            (path / "owner").write_text(owner)
        os.utime(path, (time.time() - age,) * 2)
        return path

    alive = subprocess.Popen(["sleep", "60"])
    try:
        started = Path(f"/proc/{alive.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        host = socket.gethostname()
        kept = [folder("alive", f"{host} {alive.pid} {started}"), folder("young"),
                folder("other-host", f"elsewhere 1 {started}")]
        dead = [folder("dead", f"{host} {alive.pid} 1"),  # a reused pid: another start time
                folder("old", age=NEW_FOLDER_SECONDS + 5)]
        assert sorted(remove_dead_folders(tmp_path)) == sorted(dead)
        assert all(path.exists() for path in kept) and not any(path.exists() for path in dead)
    finally:
        alive.kill()
        alive.wait()
