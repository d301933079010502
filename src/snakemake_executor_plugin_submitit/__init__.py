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
Jobs are checkpointable: preemption or a time limit requeues them. A Slurm job is named after the
wildcards its jobs share (`finetune:row=tiny/hau/base`); `python -m snakemake_executor_plugin_submitit
queue` gives the jobs of a working directory and those wildcards, as JSON, to programs that keep
Snakemake out of their process (queue.py). `allocation-service` starts a command of the profile's
choosing in each Slurm job around the Snakemake that runs its jobs (service.py).
This plugin knows nothing of what the jobs do.

What Snakemake's plugin registry looks for here (Executor, ExecutorSettings, common_settings) is
imported when first asked for (PEP 562): the registry asks at once, so Snakemake sees no
difference, while the plugin's own command (`python -m snakemake_executor_plugin_submitit queue`,
__main__.py) starts without importing Snakemake's executor interface or submitit, which would more
than double what a look at the queue costs (0.26 s against 0.1 s).
"""

_REGISTERED = {"Executor": "executor", "ExecutorSettings": "settings", "common_settings": "settings"}
__all__ = list(_REGISTERED)


def __getattr__(name: str):
    """The registry's attributes, each imported from its module when first asked for."""
    if name not in _REGISTERED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{_REGISTERED[name]}", __name__), name)
    globals()[name] = value  # asked once
    return value
