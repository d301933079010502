"""The executor plugin's parts, run for real with submitit's local executor (no Slurm needed)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

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
    while stubborn.process is None or not _descendants(stubborn.process.pid, _process_table()):
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
