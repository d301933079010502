"""Hub checkpoints: a revision resolved to its commit, downloaded once for offline jobs, remote code refused (no torch).

The hub is whatever `HF_ENDPOINT` names: the public hub by default, or a centre's mirror. Only
the submit host reaches it: the workflow checks every repository and revision before any job
starts (`check`), and the prefetch rule downloads each (repository, revision) once (`download`),
at the commit the revision resolved to, into a folder that records that commit (`SOURCE`).
Training and evaluation jobs then read folders with `HF_HUB_OFFLINE=1`: a job that tried to
reach the hub would fail, not download. Models are loaded with `trust_remote_code` off; a
checkpoint whose config asks for code from its repository is refused with a message.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

from nertransfer.data.files import atomic_directory, write_json
from nertransfer.experiment.layout import HUB_SOURCE

FILES = ["*.json", "*.safetensors", "*.model", "*.txt"]  # weights, config, tokenizer; not pickles, not other frameworks'


class HubError(ValueError):
    """A repository or revision that the hub does not have, or a checkpoint this project will not load."""


def endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def resolve_commit(repo: str, revision: str) -> str:
    """The commit `revision` (a branch, tag or commit) of `repo` names on the hub."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return HfApi().model_info(repo, revision=revision).sha
    except RevisionNotFoundError:
        raise HubError(f"revision {revision!r} of {repo!r} does not exist on {endpoint()}") from None
    except RepositoryNotFoundError:
        raise HubError(f"repository {repo!r} does not exist on {endpoint()} (or is private)") from None
    except (HfHubHTTPError, OSError) as error:
        raise HubError(f"{endpoint()} did not answer for {repo!r} at {revision!r}: {error}") from None


def check(downloads: dict[tuple[str, str], list[str]]) -> None:
    """Every (repository, revision) exists on the hub; else a HubError naming the checkpoints that use it."""
    for (repo, revision), users in downloads.items():
        try:
            resolve_commit(repo, revision)
        except HubError as error:
            raise HubError(f"{', '.join(users)}: {error}") from None


def refuse_remote_code(folder: str | Path, what: str) -> None:
    """A config with `auto_map` asks for model code from its repository: refused, as trust_remote_code stays off."""
    config = Path(folder) / "config.json"
    if config.exists() and "auto_map" in json.loads(config.read_text()):
        raise HubError(f"{what} asks for code from its repository (auto_map in config.json); nertransfer loads models "
                       "with trust_remote_code off: use a checkpoint of an architecture transformers ships")


def download(repo: str, revision: str, output: str | Path) -> dict[str, Any]:
    """Download `repo` at the commit `revision` names into `output` (moved into place whole); return its source record."""
    from huggingface_hub import snapshot_download

    commit = resolve_commit(repo, revision)
    source = {"repo": repo, "revision": revision, "commit": commit, "endpoint": endpoint()}
    with atomic_directory(output) as folder:
        snapshot_download(repo, revision=commit, local_dir=folder, allow_patterns=FILES)
        shutil.rmtree(folder / ".cache", ignore_errors=True)  # huggingface_hub's download metadata
        refuse_remote_code(folder, f"{repo} at {revision}")
        write_json(folder / HUB_SOURCE, source)
    return source


def source_of(checkpoint: str | os.PathLike) -> dict[str, Any] | None:
    """Where a downloaded checkpoint came from (repository, revision asked, commit), or None for other folders."""
    path = Path(checkpoint) / HUB_SOURCE
    return json.loads(path.read_text()) if path.is_file() else None


def described(users: Iterable[tuple[str, str | None]]) -> list[str]:
    """'checkpoint xlmr-language (language swa)' for each checkpoint and language that use a download."""
    return [f"checkpoint {name!r}" + (f" (language {language})" if language else "") for name, language in users]
