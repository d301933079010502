"""Warm starts: run `nertransfer` jobs in a process that has already imported torch.

Every Snakemake job is a process, and importing torch and transformers costs seconds: more than
evaluating a tiny model on a test set (bench/warm_start.py measures it). With a hundred evaluation
cells in the default matrix that is most of the run. So for a local run the workflow starts this server
once (`onstart`); a job's `nertransfer train|evaluate|build-recipe` process connects to its
Unix socket and hands over its arguments, working directory, environment and standard streams;
the server forks a child (torch already imported, no thread pool started yet) that runs the
command and reports its exit status back. Each cell stays its own Snakemake job with its own
inputs and outputs, so invalidation is unchanged. Without a server (a cluster node, a person at
the shell) the command simply runs in its own process.

A job's process that is asked to stop (SIGTERM, SIGINT) passes the request on, and the child
stops as it would in its own process: a fine-tune finishes its epoch and saves its resumable
state. A job's process that dies (kill -9) takes its child with it: no orphaned work. If the
process that started the server (Snakemake) dies, the server asks every child to stop and exits.

At most as many jobs run at once as there are CPUs (`--slots`): `snakemake -j4` on two cores
would otherwise run four one-thread fine-tunes on them and lose a fifth of its speed to
switching; the others wait their turn. On a cluster node (`--reuse`) the server keeps long-lived
workers instead of forking a child per job: each runs its jobs one after another in its own
process, so that a GPU's context, cuBLAS and the imports start once per worker, not once per
fine-tune and evaluation. There the executor starts it, before the Snakemake of each allocation,
as the Slurm profile's `submitit-allocation-service` (`nertransfer warm-server --reuse --socket
{socket} --slots {cpus}`), hands its socket to the jobs in NERTRANSFER_WARM_SOCKET and stops it
(SIGTERM) when the allocation's Snakemake ends: the scheduler's side of it lives in the plugin,
which knows nothing of this server but its command. With `warm_start: false` the workflow does not
pass the socket on to its jobs (workflow/rules/common.smk).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

# What a server runs for each request: `nertransfer <argv>` in this process. The command line (a later layer) hands
# its own `main` to `serve`, so that this module imports nothing above its layer.
Command = Callable[[Sequence[str]], None]

SOCKET_VARIABLE = "NERTRANSFER_WARM_SOCKET"
CHILD_VARIABLE = "NERTRANSFER_WARM_CHILD"
WARM_COMMANDS = ("train", "evaluate", "build-recipe", "adapt")
_LENGTH = struct.Struct("!I")
_STATUS = struct.Struct("!i")
_STOP = b"T"  # sent by a job's process asked to stop: the server passes SIGTERM to its child
STOP_GRACE_SECONDS = 30.0  # how long a stopping server waits for its children before killing them
# In an allocation the workers are given as long as they need to finish what they were asked to stop (a fine-tune's
# epoch in flight, then its saved state): Slurm's time limit and KillWait bound it there.
REUSE_STOP_GRACE_SECONDS = 3600.0


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def run_in_server(argv: Sequence[str]) -> int | None:
    """Run a command in the warm server, if one is announced and answers; None means: run it here."""
    path = os.environ.get(SOCKET_VARIABLE)
    if not path or os.environ.get(CHILD_VARIABLE) or not argv or argv[0] not in WARM_COMMANDS:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError:
        connection.close()
        return None
    with connection:
        request = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        socket.send_fds(connection, [_LENGTH.pack(len(request))], [0, 1, 2])
        connection.sendall(request)
        pass_on = lambda number, frame: connection.send(_STOP)  # noqa: E731  the child stops as if signalled itself
        previous = {sig: signal.signal(sig, pass_on) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            return _STATUS.unpack(_receive_exactly(connection, _STATUS.size))[0]
        except ConnectionError:  # the worker or server died mid-job (its log says how); the job failed
            print("nertransfer: the warm process running this command ended without an exit status; see the warm "
                  "server's log for how", file=sys.stderr, flush=True)
            return 1
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _take_on_the_job(request: dict, fds: list[int]) -> None:
    """Give this process the job's standard streams, working directory and environment, so that the
    command runs as it would have in the job's own process."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = os.fdopen(0, "r", closefd=False)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[CHILD_VARIABLE] = "1"


def _run_child(request: dict, fds: list[int], command: Command) -> None:
    """In the forked child: become the job's process, run the command, exit with its status."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _take_on_the_job(request, fds)
    status = 1
    try:
        status = _exit_status(request["argv"], command)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def available_cpus() -> int:
    """The CPUs this process may run on (a job's allocation, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve(path: str | os.PathLike, idle_seconds: float = 120.0, slots: int | None = None, reuse: bool = False, *,
          command: Command) -> None:
    """Listen on `path` and run each request (`command(argv)`, nertransfer's own `main`); exit after `idle_seconds`
    idle.

    Fork mode (a local run): a forked child per request, at most `slots` at once (default: the CPUs
    available), so that `snakemake -j4` on two cores does not run four trainings on them; further
    requests wait their turn. Reuse mode (a cluster allocation): `slots` long-lived workers, each
    running requests one after another in its own process, so that CUDA, cuBLAS and the imports
    start once per worker rather than once per fine-tune or evaluation.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)  # bound before the slow imports: early jobs wait instead of falling back

    import torch  # noqa: F401  the point of the server: these imports are paid once
    import transformers.models.xlm_roberta.modeling_xlm_roberta  # noqa: F401
    from transformers import AutoModelForTokenClassification, AutoTokenizer  # noqa: F401

    from nertransfer.model import evaluate, recipe, train  # noqa: F401

    slots = slots or available_cpus()
    print(f"warm server: {'long-lived workers' if reuse else 'forked jobs'}, {slots} at once", flush=True)
    if reuse:
        return _serve_reusing(listener, path, slots, command)
    running: dict[int, socket.socket] = {}  # child pid -> the job's connection
    starter = os.getppid()  # the Snakemake process that started the server
    stop = lambda *_: _stop_children(running, path)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_activity = time.monotonic()
    while True:
        if os.getppid() != starter:  # Snakemake died without stopping us (kill -9): stop its jobs too
            stop()
        accepting = [listener] if len(running) < slots else []  # the others wait in the listen queue
        readable, _, _ = select.select([*accepting, *running.values()], [], [], 0.2)
        for connection in readable:
            if connection is listener:
                _start_job(listener, running, command)
            else:
                _pass_on(connection, running)
        _report_ended(running)
        if running:
            last_activity = time.monotonic()
        elif time.monotonic() - last_activity > idle_seconds:
            path.unlink(missing_ok=True)
            return


def _serve_reusing(listener: socket.socket, path: Path, slots: int, command: Command) -> None:
    """Keep `slots` workers accepting requests on `listener` (the kernel hands each request to an idle one);
    start a new one for each that dies (a job's process killed takes its worker along); stop with the starter."""
    workers: set[int] = set()
    starter = os.getppid()

    def start_worker() -> None:
        pid = os.fork()
        if pid == 0:
            _work(listener, path, command)
        workers.add(pid)

    stop = lambda *_: _stop_children(dict.fromkeys(workers), path, REUSE_STOP_GRACE_SECONDS)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(slots):
        start_worker()
    while True:
        if os.getppid() != starter:
            stop()
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid:
            workers.discard(pid)
            print(f"warm server: {_worker_end(path, pid, status)}; starting another worker", flush=True)
            start_worker()
        else:
            time.sleep(0.2)


def _command_note(path: Path, pid: int) -> Path:
    """Where worker `pid` notes the command it runs (beside the socket), so that the server can say what a
    worker that died was doing."""
    return path.with_name(f"worker-{pid}.command")


def _worker_end(path: Path, pid: int, status: int) -> str:
    """`worker 123 was killed by signal SIGKILL while running nertransfer train ... (in /work/dir)`, for the log."""
    code = os.waitstatus_to_exitcode(status)
    how = f"was killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
    note = _command_note(path, pid)
    try:
        doing = f" while running {note.read_text()}"
    except OSError:
        doing = " between jobs"
    note.unlink(missing_ok=True)
    return f"worker {pid} {how}{doing}"


def _accept_request(listener: socket.socket) -> tuple[socket.socket, dict, list[int]] | None:
    """The next job's connection, request and standard streams; None for a connection that broke off
    or sent no valid request (the server goes on serving the others)."""
    accepted, _ = listener.accept()
    try:
        message, fds, _, _ = socket.recv_fds(accepted, _LENGTH.size, 3)
        return accepted, json.loads(_receive_exactly(accepted, _LENGTH.unpack(message)[0])), fds
    except (ConnectionError, ValueError, struct.error):
        accepted.close()
        return None


def _work(listener: socket.socket, path: Path, run: Command) -> None:
    """A worker: take requests one at a time and run each in this process, then put the process back as it was.
    Each command, and how it ended, goes to the server's log; the command is also noted beside the socket while
    it runs, for the server to name if this worker dies (kill -9, out of memory)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    note = _command_note(path, os.getpid())
    while True:
        received = _accept_request(listener)
        if received is None:
            continue
        accepted, request, fds = received
        command = f"{shlex.join(['nertransfer', *request['argv']])} (in {request['cwd']})"
        note.write_text(command)
        print(f"worker {os.getpid()}: runs {command}", flush=True)
        started = time.monotonic()
        status = _run_here(request, fds, accepted, run)
        print(f"worker {os.getpid()}: exit status {status} after {time.monotonic() - started:.0f} s: {command}",
              flush=True)
        note.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            accepted.sendall(_STATUS.pack(status))
        accepted.close()


def _run_here(request: dict, fds: list[int], connection: socket.socket, command: Command) -> int:
    """Run one command in this process as if it were the job's own, and return its exit status.

    While it runs, a watcher passes the job's stop request on as SIGTERM to this process (a
    fine-tune saves its state and stops) and, if the job's process dies, kills this worker with
    it: no work goes on for a job nobody waits for.
    """
    import gc

    saved = {"fds": [os.dup(target) for target in range(3)], "cwd": os.getcwd(), "env": dict(os.environ),
             "streams": (sys.stdin, sys.stdout, sys.stderr)}
    wake_read, wake_write = os.pipe()
    watcher = threading.Thread(target=_watch, args=(connection, wake_read), daemon=True)
    watcher.start()
    try:
        _take_on_the_job(request, fds)
        return _exit_status(request["argv"], command)
    finally:
        os.write(wake_write, b"x")
        watcher.join()
        os.close(wake_read)
        os.close(wake_write)
        sys.stdout.flush()
        sys.stderr.flush()
        for target, fd in enumerate(saved["fds"]):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin, sys.stdout, sys.stderr = saved["streams"]
        os.chdir(saved["cwd"])
        os.environ.clear()
        os.environ.update(saved["env"])
        gc.collect()
        _release_gpu_memory()


def _watch(connection: socket.socket, wake: int) -> None:
    readable, _, _ = select.select([connection, wake], [], [])
    if wake in readable:
        return
    os.kill(os.getpid(), _signal_asked(connection))


def _exit_status(argv: Sequence[str], command: Command) -> int:
    """Run `nertransfer <argv>` here (`command`); its exit status as a process would have it."""
    try:
        command(argv)
    except SystemExit as exit:
        if isinstance(exit.code, str):
            print(exit.code, file=sys.stderr)
        return exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        return 1
    return 0


def _release_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _start_job(listener: socket.socket, running: dict[int, socket.socket], command: Command) -> None:
    """Accept a job's request and fork a child that runs it with the job's own standard streams."""
    received = _accept_request(listener)
    if received is None:
        return
    accepted, request, fds = received
    pid = os.fork()
    if pid == 0:
        listener.close()
        for other in running.values():
            other.close()
        accepted.close()
        _run_child(request, fds, command)
    for fd in fds:
        os.close(fd)
    running[pid] = accepted


def _pass_on(connection: socket.socket, running: dict[int, socket.socket]) -> None:
    """A job's process asks its child to stop (SIGTERM), or closed its end: it was killed, so kill its child."""
    pid = next(p for p, c in running.items() if c is connection)
    os.kill(pid, _signal_asked(connection))


def _signal_asked(connection: socket.socket) -> int:
    """What a job's process asks for its work: SIGTERM when it sent a stop request (it was asked to stop),
    SIGKILL when it closed its end (it was killed)."""
    try:
        request = connection.recv(1)
    except OSError:
        request = b""
    return signal.SIGTERM if request == _STOP else signal.SIGKILL


def _report_ended(running: dict[int, socket.socket]) -> None:
    """Send each finished child's exit status to its job's process."""
    while running:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = running.pop(pid)
        with contextlib.suppress(OSError):
            connection.sendall(_STATUS.pack(os.waitstatus_to_exitcode(status)))
        connection.close()


def _stop_children(running: dict[int, socket.socket], path: Path, grace: float = STOP_GRACE_SECONDS) -> None:
    """Ask every child to stop (a fine-tune saves its state), give them a grace period, kill the rest, exit."""
    for pid in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while running and time.monotonic() < deadline:
        pid, _ = os.waitpid(-1, os.WNOHANG)
        running.pop(pid, None) if pid else time.sleep(0.05)
    for pid in running:
        os.kill(pid, signal.SIGKILL)
    path.unlink(missing_ok=True)
    os._exit(0)


FOLDER_PREFIX = "nertransfer-warm-"
NEW_FOLDER_SECONDS = 120.0  # a folder without a socket this young may belong to a server still starting


def remove_dead_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Remove this user's warm-server folders whose server is gone: a run or allocation killed (a requeue, a
    scancel, kill -9) has no chance to remove its own. A folder is dead when its socket refuses connections, or
    when it has had no socket for NEW_FOLDER_SECONDS."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            socket_path = folder / "socket"
            if socket_path.exists():
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(str(socket_path))
                    continue  # alive (the server takes the empty connection for a broken-off request)
                except ConnectionRefusedError:
                    pass
                finally:
                    probe.close()
            elif time.time() - folder.stat().st_mtime < NEW_FOLDER_SECONDS:
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


@dataclass
class WarmServer:
    """A warm server started for one local workflow run; jobs find it through NERTRANSFER_WARM_SOCKET."""

    process: subprocess.Popen
    folder: Path
    stop_grace_seconds: float = STOP_GRACE_SECONDS

    @classmethod
    def start(cls, log_path: str | os.PathLike, idle_seconds: float = 120.0, wait_seconds: float = 30.0,
              slots: int | None = None, reuse: bool = False) -> "WarmServer":
        """Start the server and announce its socket in this process's environment (inherited by every job)."""
        remove_dead_folders()
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))  # private: the socket runs commands
        socket_path = folder / "socket"
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        options = [*(["--slots", str(slots)] if slots else []), *(["--reuse"] if reuse else [])]
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "nertransfer", "warm-server", "--socket", str(socket_path),
                 "--idle-seconds", str(idle_seconds), *options],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while not socket_path.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        os.environ[SOCKET_VARIABLE] = str(socket_path)
        return cls(process, folder, REUSE_STOP_GRACE_SECONDS if reuse else STOP_GRACE_SECONDS)

    def stop(self) -> None:
        """Stop the server (its jobs are asked to stop first) and remove its folder."""
        os.environ.pop(SOCKET_VARIABLE, None)
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=self.stop_grace_seconds + 10)
        shutil.rmtree(self.folder, ignore_errors=True)
