"""The executor plugin's parts, run for real with submitit's local executor (no Slurm needed)."""

from __future__ import annotations

import pytest
import submitit

from snakemake_executor_plugin_submitit import ExecutorSettings, common_settings
from snakemake_executor_plugin_submitit.executor import ShellCommand, _parse_flags
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
    command = ShellCommand("true")
    again = command.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function is command


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
