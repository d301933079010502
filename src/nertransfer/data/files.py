"""Writing files so that a killed job never leaves one that looks complete.

Each file or folder is built under a temporary name beside its target and moved into place only
when complete. `tempfile` creates those private to their owner (0600, 0700), and a move keeps
the mode, so each is given the mode the user's umask gives a file or folder created the plain
way: on a shared cluster the research group reads the tables and loads the models. Files that
libraries write into such a folder through private temporary files of their own (transformers
saves model.safetensors so) are given that mode too.

Every atomic write of the package goes through here: `atomic_write` for text (`write_json` for JSON),
`atomic_file` for a library that writes a file by its name, `atomic_directory` for a folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else by setting and restoring it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_if_created_plainly(path: str | os.PathLike, folder: bool) -> None:
    os.chmod(path, (0o777 if folder else 0o666) & ~_umask())


@contextmanager
def atomic_file(path: str | os.PathLike, partial: str | os.PathLike | None = None) -> Iterator[Path]:
    """A temporary path beside `path`, moved to `path` only if the block succeeds and removed if it fails: for
    a library that writes a file by its name (torch.save, matplotlib's savefig) and for `atomic_write`.

    By default the temporary file is a fresh private one (mkstemp), given the mode a plainly created file gets.
    `partial` names it instead, for a writer that holds the folder alone (`exclusive`): a kill -9 then leaves a
    file that its next write replaces, not a new one each time. The temporary name ends in `.partial`, so a
    library that infers the format from the name is told it (`savefig(..., format="png")`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if partial is None:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        os.close(handle)
        temporary = Path(name)
        _as_if_created_plainly(temporary, folder=False)
    else:
        temporary = Path(partial)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[TextIO]:
    """Open a temporary file beside `path` (UTF-8 text) and move it into place only if the block succeeds."""
    with atomic_file(path) as temporary, open(temporary, "w", encoding="utf-8") as out:
        yield out


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_write(path) as out:
        json.dump(data, out, indent=2, ensure_ascii=False)
        out.write("\n")


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and rename it to `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        _as_if_created_plainly(temporary, folder=True)
        yield temporary
        for inside in temporary.rglob("*"):  # libraries write through private temporary files too (safetensors)
            if not inside.is_symlink():
                _as_if_created_plainly(inside, folder=inside.is_dir())
        if path.exists():  # an earlier result: moved aside, not deleted, until the new one is in place
            previous = path.with_name(f"{temporary.name}.previous")
            os.replace(path, previous)
            os.replace(temporary, path)
            shutil.rmtree(previous)
        else:
            os.replace(temporary, path)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


class FolderBusy(RuntimeError):
    """Another process holds a folder that must have one writer at a time."""


LOCK_FILE = "lock"  # in a folder that `exclusive` holds: `pid <pid> on <host>[ (Slurm job <id>)]`


@dataclass(frozen=True)
class LockHolder:
    """Who a lock file names: the process, its host and, in a Slurm allocation, the Slurm job."""

    pid: int
    host: str
    slurm_job: str | None = None


def lock_holder(folder: str | os.PathLike) -> LockHolder | None:
    """Who `folder`'s lock file names, or None without a readable one. Whether that process still holds
    it is for the caller to ask (a lock file whose holder was killed stays behind)."""
    try:
        words = (Path(folder) / LOCK_FILE).read_text().split()
    except OSError:
        return None
    if len(words) < 4 or words[0] != "pid" or not words[1].isdigit():
        return None
    job = words[6].rstrip(")") if len(words) >= 7 and words[4:6] == ["(Slurm", "job"] else None
    return LockHolder(int(words[1]), words[3], job)


@contextmanager
def exclusive(folder: str | os.PathLike, what: str, remove: bool = False) -> Iterator[None]:
    """Hold `folder` for this process alone while the block runs, or fail at once naming the holder.

    Two jobs for one cell (an orphan the scheduler lost track of, and its replacement) must not
    write the same resumable state at once. The lock is an flock on `folder/lock`, which the
    kernel releases when the holder dies (kill -9 included), so a stale lock never blocks a rerun;
    the file records who holds it (host, pid, Slurm job) for the message. `remove`: the lock file is
    removed at the end, and the folder too if nothing else is left in it, so a finished job leaves no
    lock behind (and a finished fine-tune no state folder).
    """
    folder = Path(folder)
    with _locked(folder, what) as lock:
        job = os.environ.get("SLURM_JOB_ID")
        lock.write(f"pid {os.getpid()} on {socket.gethostname()}" + (f" (Slurm job {job})" if job else "") + "\n")
        lock.flush()
        try:
            yield
        finally:
            if remove:
                (folder / LOCK_FILE).unlink(missing_ok=True)  # while still held: see _locked
                if not any(folder.iterdir()):
                    folder.rmdir()


@contextmanager
def _locked(folder: Path, what: str) -> Iterator[TextIO]:
    """The lock file of `folder`, flocked and emptied. A holder may remove it at its end (`remove_if_empty`); a
    process that opened it just before then holds a removed file, so it checks that the file it locked is still
    the one at the path, and otherwise starts again with the new one."""
    while True:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / LOCK_FILE, "a+", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                raise FolderBusy(f"{what} is in use by {holder} (lock {folder / LOCK_FILE}); "
                                 "wait for it to end or stop it, then run again") from None
            try:
                current = os.stat(folder / LOCK_FILE).st_ino
            except FileNotFoundError:
                current = None
            if current != os.fstat(lock.fileno()).st_ino:
                continue  # removed by the holder that just ended: lock the folder afresh
            lock.seek(0)
            lock.truncate()
            yield lock
            return
