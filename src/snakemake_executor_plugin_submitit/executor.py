"""The executor: submit each Snakemake job (or group job) as one submitit job on Slurm."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path
from typing import AsyncGenerator, Dict, List, Optional

import submitit
from snakemake_interface_common.exceptions import WorkflowError
from snakemake_interface_executor_plugins.executors.base import SubmittedJobInfo
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor
from snakemake_interface_executor_plugins.jobs import JobExecutorInterface

from .states import ACTIVE, FAILED, SUCCEEDED, query_states, result_of

MISSING_POLLS_BEFORE_FAILURE = 3  # a job absent from squeue and sacct this many times in a row is over


class ShellCommand:
    """What submitit runs on the node: one Snakemake job command, checkpointable.

    On preemption or near the time limit submitit calls `checkpoint`, which asks to requeue the
    same command; the job then picks up from whatever state it saved (fine-tuning saves one per
    epoch). The running command is killed with the interrupted allocation.
    """

    def __init__(self, command: str):
        self.command = command

    def __call__(self) -> None:
        subprocess.run(["bash", "-c", self.command], check=True)

    def checkpoint(self, *args, **kwargs) -> submitit.helpers.DelayedSubmission:
        return submitit.helpers.DelayedSubmission(self)


def _parse_flags(text: Optional[str]) -> Dict[str, object]:
    """'--exclude=n3 --requeue' -> {'exclude': 'n3', 'requeue': True} for submitit's additional_parameters."""
    flags: Dict[str, object] = {}
    for token in shlex.split(text or ""):
        name, equals, value = token.lstrip("-").partition("=")
        flags[name.replace("-", "_")] = value if equals else True
    return flags


class Executor(RemoteExecutor):
    def __post_init__(self):
        self.settings = self.workflow.executor_settings
        self.poll_seconds = self.settings.min_poll_seconds
        self.missing: Counter = Counter()
        self.last_states: Dict[str, str] = {}

    # -- submission ---------------------------------------------------------------------------
    def log_folder(self, job: JobExecutorInterface) -> Path:
        """`<log-dir>/<rule or group>/<wildcards shared by its jobs>`, e.g. logs/slurm/finetune/tiny/hau/base/seed1."""
        members = list(job.jobs) if job.is_group() else [job]
        wildcards = [dict(getattr(member, "wildcards_dict", {}) or {}) for member in members]
        shared = {k: v for k, v in wildcards[0].items() if all(w.get(k) == v for w in wildcards)}
        label = "/".join(str(value) for value in shared.values()) or f"job{job.jobid}"
        name = job.groupid.split("@")[0] if job.is_group() else job.name  # a group `name@instance` logs under name
        return Path(self.settings.log_dir) / name / re.sub(r"[^\w./=-]", "_", label)

    def slurm_parameters(self, job: JobExecutorInterface) -> Dict[str, object]:
        resources = job.resources
        pick = lambda name: resources.get(f"slurm_{name}") or getattr(self.settings, name)  # noqa: E731
        gpus = int(resources.get("gpus", 0) or 0)
        gres = resources.get("slurm_gres")
        if gpus and not gres:
            gres = f"gpu:{self.settings.gpu_type}:{gpus}" if self.settings.gpu_type else f"gpu:{gpus}"
        parameters = {
            "job_name": f"{job.name}-{job.jobid}",
            "time": max(1, int(resources.get("runtime", 60))),
            "ntasks_per_node": 1,
            "cpus_per_task": job.threads,
            "mem": f"{resources['mem_mb']}M" if resources.get("mem_mb") else None,
            "gres": gres,
            "partition": pick("partition"),
            "account": pick("account"),
            "qos": pick("qos"),
            "constraint": pick("constraint"),
            "signal_delay_s": self.settings.signal_delay_s,
            "stderr_to_stdout": True,
            "additional_parameters": {**_parse_flags(self.settings.sbatch_extra), **_parse_flags(resources.get("slurm_extra"))},
        }
        return {key: value for key, value in parameters.items() if value not in (None, {})}

    def run_job(self, job: JobExecutorInterface):
        folder = self.log_folder(job)
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.settings.max_requeues)
        executor.update_parameters(**self.slurm_parameters(job))
        try:
            submitted = executor.submit(ShellCommand(self.format_job_exec(job)))
        except Exception as error:  # sbatch refused: say why, with the job
            raise WorkflowError(f"sbatch refused {job.name} (log folder {folder}): {error}") from error
        log = Path(folder) / f"{submitted.job_id}_0_log.out"
        self.logger.info(f"Submitted {folder.parent.name if job.is_group() else job.name} as Slurm job {submitted.job_id}; log: {log}")
        self.report_job_submission(
            SubmittedJobInfo(job, external_jobid=submitted.job_id, aux={"folder": folder, "log": log})
        )

    # -- status -------------------------------------------------------------------------------
    async def check_active_jobs(self, active_jobs: List[SubmittedJobInfo]) -> AsyncGenerator[SubmittedJobInfo, None]:
        """One squeue (and, for jobs that left it, one sacct) call for all jobs of the run."""
        async with self.status_rate_limiter:
            states = query_states([info.external_jobid for info in active_jobs])
        changed = False
        for info in active_jobs:
            job_id = info.external_jobid
            state = states.get(job_id) or result_of(info.aux["folder"], job_id)
            changed |= state != self.last_states.get(job_id)
            self.last_states[job_id] = state
            if state in ACTIVE:
                self.missing.pop(job_id, None)
                yield info
            elif state in SUCCEEDED:
                self.report_job_success(info)
            elif state in FAILED:
                self.report_job_error(info, msg=self.failure_message(info, state))
            else:  # unknown to squeue, sacct and submitit: wait a few polls before calling it lost
                self.missing[job_id] += 1
                if self.missing[job_id] >= MISSING_POLLS_BEFORE_FAILURE:
                    self.report_job_error(info, msg=self.failure_message(info, "LOST (left the queue without a result)"))
                else:
                    yield info
        # back off while nothing changes, start over when something does
        self.poll_seconds = self.settings.min_poll_seconds if changed else min(
            self.settings.max_poll_seconds, 1.5 * self.poll_seconds
        )
        self.next_seconds_between_status_checks = self.poll_seconds

    def failure_message(self, info: SubmittedJobInfo, state: str) -> str:
        log: Path = info.aux["log"]
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else "(no log written)"
        return f"Slurm job {info.external_jobid} ended {state}. Log {log}, last lines:\n{tail}\n"

    def cancel_jobs(self, active_jobs: List[SubmittedJobInfo]):
        ids = [info.external_jobid for info in active_jobs]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True)
