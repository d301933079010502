"""Publishing tiny stand-ins for the study's checkpoints on a test hub: git repositories of the offline recipe's models.

A stand-in is the recipe's tiny XLM-R-style masked LM, saved with `save_pretrained` (the hub's
layout: config.json, model.safetensors, the tokenizer's files), committed to `<root>/<org>/<repo>`.
Each publication is a commit, so revisions mean something: a repository published twice with
different seeds has two commits whose weights differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

GIT = {"GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.org", "GIT_COMMITTER_NAME": "test",
       "GIT_COMMITTER_EMAIL": "test@example.org"}
STAND_IN = {"vocab_size": 400, "hidden_size": 32, "layers": 1, "heads": 2}


def git(repository: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repository), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT}).stdout.strip()


def publish(root: Path, repo_id: str, train_files: Iterable[str], seed: int, config_changes: dict | None = None) -> str:
    """Commit a stand-in built with `seed` as the new head of `repo_id`; return the commit's id."""
    from nertransfer.model.recipe import build_tiny_xlmr

    repository = Path(root) / repo_id
    if not (repository / ".git").exists():
        repository.mkdir(parents=True)
        git(repository, "init", "--quiet", "--initial-branch=main")
    with tempfile.TemporaryDirectory() as scratch:
        model = build_tiny_xlmr(list(train_files), Path(scratch) / "model", {**STAND_IN, "seed": seed})
        if config_changes:  # e.g. an `auto_map` that asks for code from the repository
            config = json.loads((model / "config.json").read_text())
            (model / "config.json").write_text(json.dumps({**config, **config_changes}, indent=2))
        for old in repository.iterdir():
            if old.name != ".git":
                shutil.rmtree(old) if old.is_dir() else old.unlink()
        for new in model.iterdir():
            shutil.copy2(new, repository / new.name)
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "-m", f"stand-in, seed {seed}")
    return git(repository, "rev-parse", "HEAD")
