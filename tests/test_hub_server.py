"""The test hub (tests/hub/server.py) speaks what huggingface_hub and transformers ask of a hub.

Each check runs in its own process: huggingface_hub reads HF_ENDPOINT and HF_HUB_OFFLINE when imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from conftest import requests


def hub_python(hub, code: str, **env) -> dict:
    """Run `code` against the test hub in a fresh process; it prints one JSON value, returned here."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env={**os.environ, **hub.env, **env})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_snapshot_at_a_branch_and_at_a_commit_gets_that_commits_files(hub, tmp_path):
    first, second = hub.commits["FacebookAI/xlm-roberta-base"]
    result = hub_python(hub, f"""
        import hashlib, json, pathlib
        from huggingface_hub import HfApi, snapshot_download
        digest = lambda folder: hashlib.sha256((pathlib.Path(folder) / "model.safetensors").read_bytes()).hexdigest()
        main = snapshot_download("FacebookAI/xlm-roberta-base", local_dir="{tmp_path}/main")
        old = snapshot_download("FacebookAI/xlm-roberta-base", revision="{first}", local_dir="{tmp_path}/old")
        print(json.dumps({{"main": digest(main), "old": digest(old), "sha": HfApi().model_info("FacebookAI/xlm-roberta-base").sha,
                          "files": sorted(p.name for p in pathlib.Path(main).iterdir() if p.is_file())}}))
    """)
    assert result["sha"] == second and result["main"] != result["old"]
    committed = subprocess.run(["git", "-C", str(hub.root / "FacebookAI/xlm-roberta-base"), "show", f"{first}:model.safetensors"],
                               capture_output=True, check=True).stdout
    import hashlib

    assert result["old"] == hashlib.sha256(committed).hexdigest()
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(result["files"])


def test_what_does_not_exist_is_the_error_huggingface_hub_names_it(hub):
    result = hub_python(hub, """
        import json
        from huggingface_hub import HfApi, hf_hub_download
        from transformers.utils import cached_file
        outcomes = {}
        for name, call in {
            "repo": lambda: HfApi().model_info("FacebookAI/no-such-model"),
            "revision": lambda: HfApi().model_info("FacebookAI/xlm-roberta-base", revision="no-such-branch"),
            "file": lambda: hf_hub_download("FacebookAI/xlm-roberta-base", "no-such-file.json"),
        }.items():
            try:
                call()
                outcomes[name] = "found"
            except Exception as error:
                outcomes[name] = type(error).__name__
        # transformers probes for optional files: a missing one must come back as None, not an error
        outcomes["probe"] = cached_file("FacebookAI/xlm-roberta-base", "added_tokens.json",
                                        _raise_exceptions_for_missing_entries=False)
        print(json.dumps(outcomes))
    """)
    assert result == {"repo": "RepositoryNotFoundError", "revision": "RevisionNotFoundError",
                      "file": "RemoteEntryNotFoundError", "probe": None}


def test_offline_mode_sends_the_hub_nothing(hub, tmp_path):
    before = len(requests(hub.access_log))
    result = hub_python(hub, """
        import json
        from transformers import AutoConfig
        try:
            AutoConfig.from_pretrained("FacebookAI/xlm-roberta-base")
            print(json.dumps("loaded"))
        except OSError as error:
            print(json.dumps(str(error)))
    """, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "empty-cache"))
    assert "couldn't connect" in result or "offline" in result.lower()
    assert len(requests(hub.access_log)) == before
