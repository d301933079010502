"""Writing outputs: atomically, and readable as the user's umask says (on a shared cluster, by the group)."""

from __future__ import annotations

import os
import stat

import pytest

from nertransfer.data.files import atomic_directory, atomic_write, write_json


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_and_folders_get_the_modes_the_umask_gives(tmp_path, umask):
    write_json(tmp_path / "metrics.json", {"f1": 1.0})
    with atomic_write(tmp_path / "table.md") as out:
        out.write("| a |\n")
    with atomic_directory(tmp_path / "model") as folder:
        (folder / "config.json").write_text("{}")
        (folder / "sub").mkdir()
        private = folder / "sub" / "model.safetensors"  # as a library that writes through mkstemp leaves it
        private.write_text("weights")
        private.chmod(0o600)
    assert mode(tmp_path / "metrics.json") == mode(tmp_path / "table.md") == 0o666 & ~umask
    assert mode(tmp_path / "model" / "sub" / "model.safetensors") == 0o666 & ~umask
    assert mode(tmp_path / "model" / "sub") == 0o777 & ~umask
    assert mode(tmp_path / "model") == 0o777 & ~umask
    assert mode(tmp_path / "model" / "config.json") == 0o666 & ~umask


def test_a_failed_write_leaves_the_earlier_file_and_no_partial_one(tmp_path):
    write_json(tmp_path / "metrics.json", {"f1": 1.0})
    with pytest.raises(RuntimeError), atomic_write(tmp_path / "metrics.json") as out:
        out.write("{broken")
        raise RuntimeError("killed")
    assert (tmp_path / "metrics.json").read_text() == '{\n  "f1": 1.0\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_a_failed_folder_leaves_the_earlier_folder_whole(tmp_path):
    with atomic_directory(tmp_path / "model") as folder:
        (folder / "weights").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(tmp_path / "model") as folder:
        (folder / "weights").write_text("new, half written")
        raise RuntimeError("killed")
    assert (tmp_path / "model" / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
