"""Snakemake executor plugin: submit jobs to Slurm through submitit (`executor: submitit`).

Resources declared per rule map to Slurm: `gpus`, `threads` (cpus per task), `mem_mb`,
`runtime` (minutes); `slurm_partition`, `slurm_account`, `slurm_qos`, `slurm_constraint`,
`slurm_gres` and `slurm_extra` override the profile's settings per rule. Each job's log lies in
`<log-dir>/<rule or group>/<wildcards>/`. Status is polled for all jobs at once, with a
backing-off interval, from squeue and sacct, falling back to submitit's result files when
accounting is off or down; a status query that fails says nothing about any job, so an outage of
the daemons is ridden out (up to `status-outage-limit-s`). A job that can never start (a request
beyond what the partition offers) is reported at once and cancelled, as is any job given up.
A hang-up (SIGHUP) is taken as a Ctrl-C: the run's jobs are cancelled. A job that an earlier run left
in Slurm for the same working directory is cancelled before its namesake is submitted.
Jobs are checkpointable: preemption or a time limit requeues them.
This plugin knows nothing of what the jobs do.
"""

from dataclasses import dataclass, field
from typing import Optional

from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase

from .executor import Executor  # noqa: F401  (the registry looks for it here)


@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    partition: Optional[str] = field(default=None, metadata={"help": "Slurm partition (sbatch --partition)"})
    account: Optional[str] = field(default=None, metadata={"help": "Slurm account (sbatch --account)"})
    qos: Optional[str] = field(default=None, metadata={"help": "quality of service (sbatch --qos)"})
    constraint: Optional[str] = field(default=None, metadata={"help": "node features (sbatch --constraint)"})
    gpu_type: Optional[str] = field(
        default=None, metadata={"help": "GPU type for --gres=gpu:TYPE:N, e.g. a100 (default: any GPU)"}
    )
    sbatch_extra: Optional[str] = field(
        default=None, metadata={"help": "extra sbatch flags, e.g. '--exclude=node3 --requeue'"}
    )
    log_dir: str = field(default="logs/slurm", metadata={"help": "where each job's log folder goes"})
    max_requeues: int = field(default=3, metadata={"help": "requeues after a time limit or preemption"})
    signal_delay_s: int = field(
        default=90, metadata={"help": "seconds before the time limit at which jobs are signalled to checkpoint (at most "
                                      "a quarter of the job's limit); its running jobs are then asked to stop and "
                                      "given this long less 15 s before the job is requeued"}
    )
    min_poll_seconds: float = field(default=1.0, metadata={"help": "first interval between status checks"})
    max_poll_seconds: float = field(default=30.0, metadata={"help": "longest interval while nothing changes"})
    gpu_jobs_at_once: int = field(
        default=1,
        metadata={"help": "how many of a group's GPU jobs run side by side on its GPU (their CPUs and memory add up in "
                          "the allocation); put several jobs in a group with --group-components to use it"},
    )
    status_outage_limit_s: float = field(
        default=3600.0,
        metadata={"help": "how long to keep jobs while Slurm does not answer status queries (slurmctld down, or "
                          "sacct down for jobs gone from squeue); past it they are cancelled if possible and reported failed"},
    )


common_settings = CommonSettings(
    non_local_exec=True,
    implies_no_shared_fs=False,
    job_deploy_sources=False,
    pass_default_storage_provider_args=True,
    pass_default_resources_args=True,
    pass_envvar_declarations_to_cmd=True,
    auto_deploy_default_storage_provider=False,
    init_seconds_before_status_checks=1,
)
