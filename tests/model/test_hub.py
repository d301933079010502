"""Hub checkpoints: a revision downloaded at its commit, recorded; what does not exist, or asks for remote code, refused."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

from conftest import REMOTE_CODE_REPO, TINY_TRAINING, requests


def nertransfer(hub, *args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nertransfer", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **hub.env, **env})


def committed_weights(hub, repo: str, commit: str) -> str:
    blob = subprocess.run(["git", "-C", str(hub.root / repo), "show", f"{commit}:model.safetensors"],
                          capture_output=True, check=True).stdout
    return hashlib.sha256(blob).hexdigest()


def test_a_pinned_revision_gets_that_commits_files_and_the_folder_records_where_they_came_from(hub, tmp_path):
    repo = "Davlan/xlm-roberta-base-finetuned-hausa"
    first, second = hub.commits[repo]
    for revision, commit in ((first, first), ("main", second)):
        result = nertransfer(hub, "prefetch", "--hub", repo, "--revision", revision, "--output", tmp_path / revision)
        assert result.returncode == 0, result.stderr
        folder = tmp_path / revision
        assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == committed_weights(hub, repo, commit)
        source = json.loads((folder / "hub_source.json").read_text())
        assert source == {"repo": repo, "revision": revision, "commit": commit, "endpoint": hub.url}
        assert not (folder / ".cache").exists()  # huggingface_hub's download metadata is not part of the checkpoint


def test_a_repository_or_revision_that_does_not_exist_is_named(hub, tmp_path):
    result = nertransfer(hub, "prefetch", "--hub", "FacebookAI/xlm-roberta-base", "--revision", "v9", "--output", tmp_path / "x")
    assert result.returncode != 0
    assert f"revision 'v9' of 'FacebookAI/xlm-roberta-base' does not exist on {hub.url}" in result.stderr
    result = nertransfer(hub, "prefetch", "--hub", "Davlan/no-such-model", "--output", tmp_path / "y")
    assert f"repository 'Davlan/no-such-model' does not exist on {hub.url}" in result.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_a_checkpoint_that_asks_for_remote_code_is_refused(hub, tmp_path):
    result = nertransfer(hub, "prefetch", "--hub", REMOTE_CODE_REPO, "--output", tmp_path / "code")
    assert result.returncode != 0
    assert (f"{REMOTE_CODE_REPO} at main asks for code from its repository (auto_map in config.json); nertransfer loads "
            "models with trust_remote_code off") in result.stderr
    assert not (tmp_path / "code").exists()


def test_a_job_that_tried_to_download_fails_and_reaches_no_hub(hub, tmp_path, mini_corpus):
    """Jobs run with HF_HUB_OFFLINE=1: given a hub id instead of a prefetched folder, a fine-tune fails at once."""
    before = len(requests(hub.access_log))
    result = nertransfer(hub, "train", "--checkpoint", "FacebookAI/xlm-roberta-base",
                         "--train", mini_corpus / "hau" / "train.txt",
                         "--dev", mini_corpus / "hau" / "dev.txt", "--hyperparameters", json.dumps(TINY_TRAINING),
                         "--output", tmp_path / "run", HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "empty-cache"))
    assert result.returncode != 0 and "offline" in result.stderr.lower(), result.stderr[-2000:]
    assert len(requests(hub.access_log)) == before
    assert not (tmp_path / "run").exists()
