"""The allocation's service: a command that runs in each Slurm job beside the Snakemake that runs its jobs.

Why: a job that starts slowly (a process that imports torch and starts CUDA) pays for it once per Snakemake job,
where long-lived workers in the allocation, started once, would run every job of the group in turn. Such workers
belong to the allocation, not to any one job, so the job wrapper the executor submits (executor.ShellCommand)
starts them before the group's Snakemake and stops them after it; they used to be started by the workflow while
the group's Snakemake read its rules, keyed on the Slurm job, which put the scheduler's knowledge outside this
plugin. The plugin knows nothing of what the service does: the profile names the command
(`allocation-service`), with `{socket}` for a fresh Unix socket path in a private folder and `{cpus}` for the
job's CPUs, and the environment variable (`allocation-service-env`) in which the group's Snakemake, and so its
jobs, find that socket. A job that finds no one listening there runs as it would without the service.

The service runs in its own process group, ignores the checkpoint signal as the command does (Slurm sends it to
every process of the job), writes to `<log folder>/<slurm id>_service.log` (appended to by a requeued attempt),
and is stopped with SIGTERM to its first process (the service stops its own children as it sees fit), then
SIGKILL to whatever is left of its group. Its private folder is removed when it stops; a job killed outright
(scancel, kill -9) cannot remove its own, so each start removes this user's folders whose job process has gone.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FOLDER_PREFIX = "submitit-service-"
START_SECONDS = 30.0  # how long a job waits for its service's socket before its Snakemake starts all the same
STOP_SECONDS = 60.0  # how long a service is given to stop at the end of its job before SIGKILL
NEW_FOLDER_SECONDS = 120.0  # a folder this young without its owner's note may belong to a job still starting


def ignore_checkpoint_signal() -> None:
    """In a child before exec: Slurm's checkpoint signal (USR2, sent to every process of the job) would end a
    process that does not handle it; the wrapper's `checkpoint` stops processes in order instead."""
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)


@dataclass(frozen=True)
class Service:
    """What `allocation-service` runs in a Slurm job, as submitted (pickled with the job's command)."""

    command: str  # shell command, `{cpus}` filled in at submission, `{socket}` on the node
    variable: str  # the environment variable that gives the job's Snakemake the socket
    log_folder: str  # the Slurm job's log folder (absolute)


def _start_time(pid: int) -> str | None:
    """The start time of process `pid` (from /proc), so that a reused pid is not taken for the process noted."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()[19]


def remove_dead_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove this user's service folders on this host whose job process is gone (its owner's note names host, pid
    and start time), and any without a note that is older than NEW_FOLDER_SECONDS."""
    host, removed = socket.gethostname(), []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            note = folder / "owner"
            if not note.exists():
                if time.time() - folder.stat().st_mtime < NEW_FOLDER_SECONDS:
                    continue
            else:
                owner = note.read_text().split()
                if len(owner) != 3 or owner[0] != host or _start_time(int(owner[1])) == owner[2]:
                    continue  # another host's (a shared temporary folder), or its job still runs
        except (OSError, ValueError):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


class RunningService:
    """A started service: its first process, private folder, socket path (None when its command names none) and log."""

    def __init__(self, process: subprocess.Popen, folder: Path, socket_path: Path | None, log: Path):
        self.process, self.folder, self.socket, self.log = process, folder, socket_path, log
        self.stopped = False

    @property
    def running(self) -> bool:
        """Whether its first process still runs (a service that ended at once is not announced to the jobs)."""
        return self.process.poll() is None

    def stop(self, seconds: float = STOP_SECONDS) -> None:
        """SIGTERM to the service's first process, up to `seconds` for it to end, SIGKILL to what is left of its
        process group, and its folder removed. Once: the job's end and a checkpoint both ask."""
        if self.stopped:
            return
        self.stopped = True
        if self.process.poll() is not None:
            print(f"submitit-plugin: the allocation service had ended before the job's command (exit status "
                  f"{self.process.returncode}); its log: {self.log}", flush=True)
        else:
            self.process.terminate()
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                print(f"submitit-plugin: the allocation service still ran {seconds:.0f} s after SIGTERM: killed",
                      flush=True)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def job_id() -> str:
    """The Slurm job's id (a requeued attempt keeps it), or submitit's local job's, or this process's."""
    return os.environ.get("SLURM_JOB_ID") or os.environ.get("SUBMITIT_LOCAL_JOB_ID") or str(os.getpid())


def start(service: Service, wait_seconds: float = START_SECONDS) -> RunningService:
    """Start `service` with a fresh socket path and wait (up to `wait_seconds`) for it to open the socket, if its
    command names one; a service that ends at once, or is slow to listen, is said in the job's log and the job
    goes on without waiting further."""
    remove_dead_folders()
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))  # 0700: whoever reaches the socket may use the service
    (folder / "owner").write_text(f"{socket.gethostname()} {os.getpid()} {_start_time(os.getpid())}\n")
    socket_path = folder / "socket"
    log = Path(service.log_folder) / f"{job_id()}_service.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = service.command.replace("{socket}", shlex.quote(str(socket_path)))
    with open(log, "a") as out:
        out.write(f"submitit-plugin: {time.strftime('%Y-%m-%d %H:%M:%S')} starting the allocation service: {command}\n")
        out.flush()
        process = subprocess.Popen(["bash", "-c", command], stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=ignore_checkpoint_signal)
    listens = "{socket}" in service.command
    deadline = time.monotonic() + wait_seconds
    while listens and not socket_path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if process.poll() is not None:
        print(f"submitit-plugin: the allocation service ended at once (exit status {process.returncode}); the jobs "
              f"run without it. Its log: {log}", flush=True)
    elif listens and not socket_path.exists():
        print(f"submitit-plugin: the allocation service has not opened its socket after {wait_seconds:.0f} s; the "
              f"jobs start all the same (those that find no one listening run without it). Its log: {log}", flush=True)
    return RunningService(process, folder, socket_path if listens else None, log)
