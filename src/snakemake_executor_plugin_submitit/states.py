"""Job states from Slurm in one batched call, telling "Slurm did not answer" from "the job is gone".

squeue knows every job still in the queue (and finished ones for MinJobAge seconds); sacct
knows finished ones only when accounting works; submitit's result file in the job's folder
tells success from failure when neither knows. Each call covers all jobs of a run at once.
A failed call says nothing about any job: it comes back as an error, never as an empty queue,
so that an outage of slurmctld is not taken for jobs that left the queue.
"""

from __future__ import annotations

import pickle
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
          "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "STOPPED", "PREEMPTED", "RESV_DEL_HOLD"}
SUCCEEDED = {"COMPLETED"}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED",
          "SPECIAL_EXIT", "RESULT_ERROR"}
# Pending reasons that waiting does not clear: the request exceeds what the partition, account or
# QOS allows a job, or names something that does not exist. (Resources, Priority, ... clear.)
NEVER_STARTS = {
    "PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "BadConstraints", "InvalidAccount", "InvalidQOS",
    "DependencyNeverSatisfied", "QOSMaxCpuPerJobLimit", "QOSMaxGRESPerJob", "QOSMaxMemoryPerJob", "QOSMaxNodePerJobLimit",
    "QOSMaxWallDurationPerJobLimit", "QOSMinGRES", "QOSMinCpuNotSatisfied", "QOSMinMemory", "AssocMaxCpuPerJobLimit",
    "AssocMaxGRESPerJob", "AssocMaxMemPerJob", "AssocMaxNodePerJobLimit", "AssocMaxWallDurationPerJobLimit",
}
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class JobState:
    state: str
    reason: str = ""  # squeue's pending reason


@dataclass
class QueueAnswer:
    """What one status call learnt: states of the jobs Slurm knows, or why Slurm did not answer."""

    states: Dict[str, JobState] = field(default_factory=dict)
    queue_error: Optional[str] = None  # squeue failed: nothing is known about any job
    accounting_error: Optional[str] = None  # sacct failed (off or down): jobs gone from squeue are not known there


def run(command: List[str], timeout: float = TIMEOUT_SECONDS) -> tuple[Optional[str], Optional[str]]:
    """(stdout, None) when the command succeeded, (None, why) when it failed or timed out."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"{command[0]} did not answer within {timeout:.0f} s"
    except OSError as error:
        return None, f"{command[0]} could not run: {error}"
    if done.returncode != 0:
        return None, f"{command[0]} exited {done.returncode}: {(done.stderr or done.stdout).strip()[:300]}"
    return done.stdout, None


def query_states(job_ids: Iterable[str]) -> QueueAnswer:
    """State per job id: squeue for this user's jobs (filtered here, since `squeue --jobs` with only
    forgotten ids exits 1 like a failure), then sacct for the ones squeue no longer lists."""
    ids = [str(i) for i in job_ids]
    answer = QueueAnswer()
    if not ids:
        return answer
    out, answer.queue_error = run(["squeue", "--noheader", "--me", "--states=all", "--format=%i|%T|%r"])
    if answer.queue_error:
        return answer
    wanted = set(ids)
    for line in out.splitlines():
        job_id, _, rest = line.strip().partition("|")
        state, _, reason = rest.partition("|")
        if job_id in wanted:
            answer.states[job_id] = JobState(state.strip(), reason.strip())
    rest = [i for i in ids if i not in answer.states]
    if rest:
        out, answer.accounting_error = run(
            ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", "--jobs", ",".join(rest)])
        for line in (out or "").splitlines():
            job_id, _, state = line.partition("|")
            if job_id in rest and state:
                answer.states[job_id] = JobState(state.split()[0])  # "CANCELLED by 0" -> CANCELLED
    return answer


def result_of(folder: str | Path, job_id: str) -> Optional[str]:
    """COMPLETED or RESULT_ERROR from submitit's result file, or None when the job left none."""
    path = Path(folder) / f"{job_id}_0_result.pkl"
    if not path.exists():
        return None
    try:
        outcome, _ = pickle.loads(path.read_bytes())
    except Exception:
        return None
    return "COMPLETED" if outcome == "success" else "RESULT_ERROR"


def partition_offer(partition: Optional[str]) -> str:
    """What a partition's nodes offer (CPUs, memory, GRES) and its time limit, as sinfo reports it."""
    out, error = run(["sinfo", "--noheader", "--format=%P|%c|%m|%G|%l"])
    if error:
        return f"unknown ({error})"
    offers = []
    for line in out.splitlines():
        name, cpus, memory, gres, limit = (line.split("|") + [""] * 5)[:5]
        default = name.endswith("*")
        name = name.rstrip("*")
        if (partition and name == partition) or (not partition and default):
            offers.append(f"partition {name!r}: nodes of {cpus} CPUs, {memory} MB memory, GRES {gres}, time limit {limit}")
    return "; ".join(dict.fromkeys(offers)) or f"no partition {partition!r} in sinfo"


def wait_until_gone(job_ids: List[str], seconds: float) -> bool:
    """Whether the jobs have all left the active states (a cancelled job is COMPLETING until its processes have
    ended) within `seconds`: only then has a job stopped writing to its outputs."""
    deadline = time.monotonic() + seconds
    while True:
        out, error = run(["squeue", "--noheader", "--me", "--states=all", "--format=%i|%T"])
        states = dict(line.strip().split("|", 1) for line in (out or "").splitlines() if "|" in line)
        if error is None and not any(states.get(job_id) in ACTIVE for job_id in job_ids):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
