"""Fingerprints: what a job read, by content, whatever the file times say; data checked once per content."""

from __future__ import annotations

import hashlib
import os

import pytest

from conftest import write
from nertransfer.data.conll import ConllError
from nertransfer.data.fingerprints import InputChanged, check_data_files, check_planned, check_unchanged, file_sha256, sha256_of

CONLL = "Ali B-PER\nyana O\n\nKano B-LOC\n"


def test_a_file_s_fingerprint_is_the_sha256_of_its_bytes(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    assert file_sha256(path) == hashlib.sha256(CONLL.encode()).hexdigest()


def test_a_folder_s_fingerprint_follows_its_files_names_and_contents_not_its_place_times_or_lock(tmp_path):
    one, two = tmp_path / "one", tmp_path / "moved copy"
    for folder in (one, two):
        write(folder / "config.json", "{}")
        write(folder / "weights" / "model.bin", "1234")
    write(two / "lock", "pid 7 on host")  # who works in a folder is not what it holds
    os.utime(two / "config.json", (0, 0))
    assert sha256_of(one) == sha256_of(two)
    write(two / "weights" / "model.bin", "1235")
    assert sha256_of(one) != sha256_of(two)


def test_an_input_that_changed_since_it_was_read_fails_the_job_naming_the_file(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    read = {"train": (str(path), file_sha256(path))}
    check_unchanged(read, "while this fine-tune ran")  # unchanged: nothing to say
    before = os.stat(path)
    write(path, CONLL.replace("Kano", "Kana"))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the same time, another content
    with pytest.raises(InputChanged, match=r"train.txt \(train\) changed while this fine-tune ran: its content"):
        check_unchanged(read, "while this fine-tune ran")
    path.unlink()
    with pytest.raises(InputChanged, match=r"train.txt \(train\) can no longer be read"):
        check_unchanged(read, "while this fine-tune ran")


def test_a_file_that_differs_from_what_the_workflow_planned_on_is_refused():
    check_planned("test", "data/hau/test.txt", "a" * 64, None)  # nothing planned: a job run by hand
    check_planned("test", "data/hau/test.txt", "a" * 64, "a" * 64)
    with pytest.raises(InputChanged, match=r"data/hau/test.txt \(test\) changed after the workflow planned this job"):
        check_planned("test", "data/hau/test.txt", "a" * 64, "b" * 64)


def test_data_is_checked_once_per_content_and_a_bad_line_is_named(tmp_path):
    path = write(tmp_path / "data" / "train.txt", CONLL)
    cache = tmp_path / "checked"
    (checked,) = check_data_files([str(path)], ["LOC", "PER"], cache).values()
    assert (checked.sentences, checked.sha256) == (2, file_sha256(path))
    assert len(list(cache.iterdir())) == 1
    write(cache / next(cache.iterdir()).name, '{"sentences": 5}')  # a remembered check is not read again
    assert check_data_files([str(path)], ["LOC", "PER"], cache)[str(path)].sentences == 5
    write(path, CONLL + "\nBad line without a tag here\n")
    with pytest.raises(ConllError, match=r"train.txt:6"):
        check_data_files([str(path)], ["LOC", "PER"], cache)
