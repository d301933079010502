"""The queue of one working directory as a tool outside Snakemake needs it: each job, its state, and the wildcards
of the Snakemake jobs it runs.

Why here: the executor invents the name a Slurm job carries, so it alone may read one back. A job is named
`<rule or group>:<wildcard>=<value>,...` for the wildcards its Snakemake jobs share
(`finetune:row=mini/hau/base,seed=1`; a group of every seed of a row: `finetune:row=mini/hau/base`): the wildcard
names travel with their values, so a reader gets them back as a mapping and never has to know how values were
joined. Values are percent-encoded where they hold `,`, `=`, `%` or characters a shell or sbatch would take
apart; a name of any other shape (a job not submitted by this executor, one of an older naming) has no wildcards.

Why a command (`python -m snakemake_executor_plugin_submitit queue --workdir DIR`, JSON on stdout) as well as
functions: a program that keeps Snakemake and this plugin out of its own process (the workflow's status view) runs
the command and reads the JSON; the executor calls the functions. This module imports nothing of Snakemake or
submitit, and the package's __init__ imports them only when Snakemake's plugin registry asks, so the command
starts fast.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from urllib.parse import quote, unquote

from .states import ACTIVE, TIMEOUT_SECONDS, run

SCHEDULER = "Slurm"
_WILDCARD_NAME = re.compile(r"^[A-Za-z_]\w*$")
_SAFE = "/:@+"  # kept as they are in a value (besides letters, digits and _.-~): readable names, one token for sbatch


def job_name(rule_or_group: str, wildcards: Mapping[str, object]) -> str:
    """The Slurm job name of a job (or group) whose Snakemake jobs share `wildcards`."""
    return f"{rule_or_group}:" + ",".join(f"{name}={quote(str(value), safe=_SAFE)}" for name, value in wildcards.items())


def wildcards_of(name: str) -> dict[str, str]:
    """The wildcards a job named by `job_name` runs with; {} for a name of any other shape."""
    _, colon, rest = name.partition(":")
    if not colon or not rest:
        return {}
    wildcards = {}
    for pair in rest.split(","):
        key, equals, value = pair.partition("=")
        if not equals or not _WILDCARD_NAME.match(key) or key in wildcards:
            return {}
        wildcards[key] = unquote(value)
    return wildcards


@dataclass(frozen=True)
class QueuedJob:
    """A job of this user that is still queued or running in the working directory asked about."""

    id: str
    state: str  # Slurm's word: PENDING, RUNNING, REQUEUED, ...
    name: str
    wildcards: dict[str, str] = field(default_factory=dict)  # of the Snakemake jobs it runs ({}: not one of ours)

    @property
    def running(self) -> bool:
        return self.state == "RUNNING"


def jobs_in(folder: str | os.PathLike, timeout: float = TIMEOUT_SECONDS) -> tuple[list[QueuedJob], str | None]:
    """This user's jobs still queued or running with `folder` as their working directory (squeue's %Z), and None;
    or ([], why) when squeue failed. Jobs of other folders (a second clone's, of the same names) are never listed."""
    out, error = run(["squeue", "--noheader", "--me", "--states=all", "--format=%i|%T|%Z|%j"], timeout)
    if error:
        return [], error
    here, jobs = os.path.realpath(folder), []
    for line in out.splitlines():
        fields = line.strip().split("|", 3)  # the name last: a foreign job's name may hold "|"
        if len(fields) < 4:
            continue
        job_id, state, workdir, name = fields
        if state in ACTIVE and workdir and os.path.realpath(workdir) == here:
            jobs.append(QueuedJob(job_id, state, name, wildcards_of(name)))
    return jobs, None


REPORT_TIMEOUT_SECONDS = 30  # a status view waits no longer for a slurmctld that does not answer


def queue_report(folder: str | os.PathLike) -> dict:
    """What `queue --workdir` prints: {"scheduler", "problem", "jobs": [{id, state, running, name, wildcards}]}.
    Without Slurm here (no squeue) the queue is empty and there is no problem; `problem` says why Slurm did not
    answer when it did not (the jobs are then unknown, not absent)."""
    report: dict = {"scheduler": SCHEDULER, "problem": "", "jobs": []}
    if shutil.which("squeue") is None:
        return report
    jobs, error = jobs_in(folder, REPORT_TIMEOUT_SECONDS)
    report["problem"] = error or ""
    report["jobs"] = [{**asdict(job), "running": job.running} for job in jobs]
    return report
