"""What a result was made from, by content: fingerprints of the files a job read (no torch).

File times say when a file was written, not what it holds: a training file edited while its
fine-tune ran is older than the model trained on its previous text, so Snakemake (which judges by
times) and a status that trusts times would call that model up to date. So every job records the
SHA-256 of each input it read beside its outputs, checks at its end that the inputs still hold
what it read (else it fails naming the file), and the workflow passes each data file's
fingerprint to its jobs as a parameter, so that a changed content reruns them whatever the times
say (Snakemake reruns a job whose parameters changed). `nertransfer status` compares the same
recorded fingerprints with the files as they are.

Data files are also checked once per content before any job starts (`check_data_files`): a
malformed line fails the run at once with its file and line, instead of a fine-tune in the middle
of the night. The check is remembered per fingerprint in the work folder, so a rerun reads only
files whose content is new.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, read in chunks (a 1 GB safetensors file never sits in memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


IGNORED = {"lock"}  # a lock file of files.exclusive says who works in a folder, not what it holds


def sha256_of(path: str | os.PathLike) -> str:
    """A file's SHA-256, or a folder's: over every file's path inside it and content, in sorted order
    (a model folder is the same checkpoint wherever it is copied, whatever its file times)."""
    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    digest = hashlib.sha256()
    for inside in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in IGNORED):
        digest.update(f"{inside.relative_to(path).as_posix()}\0{file_sha256(inside)}\n".encode())
    return digest.hexdigest()


def data_sha256(path: str | os.PathLike) -> str:
    """A data file's SHA-256; a missing or unreadable one is the ConllError reading it would give (file named)."""
    try:
        return file_sha256(path)
    except OSError:
        from nertransfer.data.conll import iter_conll

        next(iter_conll(path), None)  # raises the reader's own one-line error for this file
        raise


class InputChanged(RuntimeError):
    """An input of a job does not hold what the job read (or what the workflow planned it on)."""


def check_planned(role: str, path: str, found: str, expected: str | None) -> None:
    """Fail, naming the file, if an input does not hold the content the workflow planned the job on."""
    if expected is not None and found != expected:
        raise InputChanged(f"{path} ({role}) changed after the workflow planned this job (sha256 {expected[:12]}... "
                           f"then, {found[:12]}... now); run the workflow again")


def check_unchanged(read: Mapping[str, tuple[str, str]], when: str) -> None:
    """Fail, naming the file, if an input no longer holds the content it had (`role -> (path, sha256)`).

    `when` says which moment the fingerprint is from, for the message ("when this job started").
    """
    for role, (path, expected) in read.items():
        try:
            now = sha256_of(path)
        except OSError as error:
            raise InputChanged(f"{path} ({role}) can no longer be read ({error.strerror}); it was read {when}") from None
        if now != expected:
            raise InputChanged(f"{path} ({role}) changed {when}: its content is not what this job read "
                               f"(sha256 {expected[:12]}... then, {now[:12]}... now), so its results would not "
                               "match the file; run the workflow again")


@dataclass(frozen=True)
class DataFile:
    """A data file as the run reads it: its fingerprint and how many sentences it holds."""

    path: str
    sha256: str
    sentences: int


def check_data_files(paths: Iterable[str], types: Sequence[str], cache_dir: str | os.PathLike) -> dict[str, DataFile]:
    """Every file read and validated as CoNLL once per content (and entity types); a ConllError names the
    first bad file and line. What was checked is remembered in `cache_dir`, keyed by fingerprint."""
    from nertransfer.data.conll import iter_conll

    cache_dir = Path(cache_dir)
    key_types = ",".join(types)
    checked: dict[str, DataFile] = {}
    for path in dict.fromkeys(paths):
        sha256 = file_sha256(path)
        marker = cache_dir / f"{sha256}-{hashlib.sha256(key_types.encode()).hexdigest()[:16]}.json"
        try:
            sentences = json.loads(marker.read_text())["sentences"]
        except (OSError, ValueError, KeyError, TypeError):
            sentences = sum(1 for _ in iter_conll(path, types))  # an empty file is a ConllError too
            _remember(marker, sentences)
        checked[path] = DataFile(path, sha256, sentences)
    return checked


def _remember(marker: Path, sentences: int) -> None:
    from nertransfer.data.files import write_json

    with contextlib.suppress(OSError):  # a read-only work folder only costs the next run the same check
        write_json(marker, {"sentences": sentences})


def check_experiment_data(experiment, cache_dir: str | os.PathLike) -> dict[str, DataFile]:
    """Every data file the experiment reads, checked before any job (`check_data_files`), and every training
    size that asks for more sentences than its file holds refused (rather than quietly capped). Keyed by path."""
    from nertransfer.experiment.config import ConfigError

    paths = sorted({experiment.dataset.file(language, split) for language, split in experiment.data_needed()})
    data = check_data_files(paths, experiment.dataset.types, cache_dir)
    for cell in experiment.cells():
        if cell.train_size.isdigit():
            languages = experiment.languages_of(cell.train_language)
            files = [data[experiment.dataset.file(language, "train")] for language in languages]
            sentences = sum(train.sentences for train in files)
            if int(cell.train_size) > sentences:
                raise ConfigError("train_sizes", f"{int(cell.train_size):,} sentences is more than the {sentences:,} of "
                                  f"{' + '.join(train.path for train in files)} (cell {cell.id}); give at most "
                                  f"{sentences:,}, a fraction such as 0.5, or full")
    return data
