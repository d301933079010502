"""The processes of a local workflow run's jobs: they stop when Snakemake is interrupted.

Snakemake's local executor answers SIGINT by waiting for the jobs in flight, sending them
nothing: a SIGINT to the Snakemake process alone (not to its terminal's process group) left a
fine-tune to train to its end, whose outputs Snakemake then marked incomplete, so the next run
trained it again from scratch. `stop_jobs_on_interrupt` makes a SIGINT first ask every job
process to stop (SIGTERM: a fine-tune finishes its epoch and saves its resumable state), then
lets Snakemake handle the interrupt as usual. Linux only (it reads /proc); elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process this user can see."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])  # after the command name, which may hold spaces
        children.setdefault(parent, []).append(int(entry.name))
    return children


def working_descendants(pid: int) -> list[int]:
    """The processes below `pid` that have no children of their own: the ones doing a job's work.

    Shells in between are left alone: a shell that gets SIGTERM dies at once and orphans its
    command, which would then stop unseen by Snakemake.
    """
    children, leaves, pending = _children(), [], list(_children().get(pid, []))
    while pending:
        process = pending.pop()
        below = children.get(process, [])
        pending.extend(below)
        if not below:
            leaves.append(process)
    return leaves


def stop_jobs_on_interrupt() -> None:
    """On SIGINT, send SIGTERM to this process's working descendants, then raise KeyboardInterrupt as usual."""
    if not Path("/proc/self/stat").exists():
        return

    def interrupt(number, frame):
        for process in working_descendants(os.getpid()):
            try:
                os.kill(process, signal.SIGTERM)
            except ProcessLookupError:
                pass
        signal.default_int_handler(number, frame)

    signal.signal(signal.SIGINT, interrupt)
