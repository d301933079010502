"""The plugin's settings (`--submitit-<name>` on the command line, `submitit-<name>:` in a profile) and what it
declares to Snakemake about itself; the package's __init__ hands both to Snakemake's plugin registry."""

from dataclasses import dataclass, field
from typing import Optional

from snakemake_interface_executor_plugins.settings import CommonSettings, ExecutorSettingsBase


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
    allocation_service: Optional[str] = field(
        default=None,
        metadata={"help": "a shell command started in each Slurm job before the Snakemake that runs its jobs, and "
                          "stopped (SIGTERM, then SIGKILL to what is left of it) when that ends or the job is "
                          "checkpointed: e.g. long-lived workers the jobs hand their work to. `{socket}` in it becomes "
                          "a fresh Unix socket path in a private folder, `{cpus}` the CPUs the Slurm job was given; "
                          "its output goes to <log folder>/<slurm id>_service.log"},
    )
    allocation_service_env: str = field(
        default="SUBMITIT_SERVICE_SOCKET",
        metadata={"help": "the environment variable that gives the job's Snakemake and its jobs the service's socket"},
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
