"""Job states from Slurm in one batched call, robust to accounting that is off or down.

squeue knows every job still in the queue (and finished ones for MinJobAge seconds); sacct
knows finished ones only when accounting works. submitit's result file in the job's folder
tells success from failure when neither knows. Each call covers all jobs of a run at once.
"""

from __future__ import annotations

import pickle
import subprocess
from pathlib import Path
from typing import Dict, Iterable, Optional

ACTIVE = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
          "RESIZING", "SUSPENDED", "SIGNALING", "STAGE_OUT", "STOPPED", "PREEMPTED", "RESV_DEL_HOLD"}
SUCCEEDED = {"COMPLETED"}
FAILED = {"FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED",
          "SPECIAL_EXIT", "RESULT_ERROR"}


def _run(command: list) -> Optional[str]:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def query_states(job_ids: Iterable[str]) -> Dict[str, str]:
    """State per job id, from squeue, then sacct for the rest; ids neither knows are left out."""
    ids = [str(i) for i in job_ids]
    if not ids:
        return {}
    states: Dict[str, str] = {}
    out = _run(["squeue", "--noheader", "--states=all", "--format=%i %T", "--jobs", ",".join(ids)]) or ""
    for line in out.splitlines():
        job_id, _, state = line.strip().partition(" ")
        if job_id in ids:
            states[job_id] = state.strip()
    rest = [i for i in ids if i not in states]
    if rest:
        out = _run(["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State", "--jobs", ",".join(rest)]) or ""
        for line in out.splitlines():
            job_id, _, state = line.partition("|")
            if job_id in rest:
                states[job_id] = state.split()[0] if state else ""
    return states


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
