"""The processes of a local workflow run's jobs: they stop when Snakemake is interrupted.

Snakemake's local executor answers SIGINT by waiting for the jobs in flight, sending them
nothing: a SIGINT to the Snakemake process alone (not to its terminal's process group) left a
fine-tune to train to its end, whose outputs Snakemake then marked incomplete, so the next run
trained it again from scratch. `handle_interrupts(stop_jobs=True)` makes a SIGINT first ask every job
process to stop (SIGTERM: a fine-tune finishes its epoch and saves its resumable state), then
lets Snakemake handle the interrupt as usual. Linux only (it reads /proc); elsewhere it does nothing.

A SIGINT can also be lost: Python raises KeyboardInterrupt wherever the main thread is, and a
function that catches it and carries on (Snakemake's log handler does, while it writes a message)
swallows the user's Ctrl-C. `handle_interrupts(not_inside=...)` holds a SIGINT that lands inside
such a function back and delivers it again a moment later, once the function has returned.

A hang-up (SIGHUP: the terminal closed, the ssh session dropped) is handled as a Ctrl-C: by default
it ended Snakemake at once, leaving a local run's jobs to run unseen and a Slurm run's jobs queued
(a rerun then trained the same cells again beside them). Ignored (nohup), it stays ignored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Optional

RETRY_SECONDS = 0.05  # how soon a held-back SIGINT is delivered again


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
    children = _children()
    leaves, pending = [], list(children.get(pid, []))
    while pending:
        process = pending.pop()
        below = children.get(process, [])
        pending.extend(below)
        if not below:
            leaves.append(process)
    return leaves


def _inside(frame: Optional[FrameType], functions: tuple[tuple[str, str], ...]) -> bool:
    """Whether the call stack from `frame` down holds one of `functions` ((file path ending, function name))."""
    while frame is not None:
        code = frame.f_code
        if any(code.co_name == name and code.co_filename.endswith(path) for path, name in functions):
            return True
        frame = frame.f_back
    return False


def stop_job_processes() -> None:
    """Send SIGTERM to this process's working descendants (a fine-tune saves its state and stops)."""
    for process in working_descendants(os.getpid()):
        with contextlib.suppress(ProcessLookupError):  # ended since it was listed
            os.kill(process, signal.SIGTERM)


def handle_interrupts(not_inside: tuple[tuple[str, str], ...] = (), stop_jobs: bool = False) -> None:
    """On SIGINT, and on SIGHUP (unless ignored): raise KeyboardInterrupt as usual, but never inside the functions
    `not_inside` (file path ending, function name), which would swallow it: there a SIGINT is sent again a moment
    later. With `stop_jobs` (a local run, on Linux), the job processes are first asked to stop."""
    stop_jobs = stop_jobs and Path("/proc/self/stat").exists()

    def interrupt(number, frame):
        if _inside(frame, not_inside):
            threading.Timer(RETRY_SECONDS, os.kill, (os.getpid(), signal.SIGINT)).start()
            return
        if stop_jobs:
            stop_job_processes()
        signal.default_int_handler(number, frame)

    signal.signal(signal.SIGINT, interrupt)
    hang_up = getattr(signal, "SIGHUP", None)  # none on Windows
    if hang_up is not None and signal.getsignal(hang_up) is not signal.SIG_IGN:
        signal.signal(hang_up, interrupt)
