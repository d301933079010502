"""Shared fixtures: paths to the project's own data and to the read-only shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is ever fetched from a hub in tests

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
SHARED = REPO.parent / "shared"


@pytest.fixture
def repo() -> Path:
    return REPO


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


TYPES = ["DATE", "LOC", "ORG", "PER"]
TINY_RECIPE = {"vocab_size": 400, "hidden_size": 32, "layers": 1, "heads": 2, "seed": 0}
TINY_TRAINING = {
    "epochs": 2, "learning_rate": 5e-3, "batch_size": 16, "eval_batch_size": 64, "warmup_ratio": 0.1,
    "weight_decay": 0.01, "max_length": 64, "max_grad_norm": 1.0, "seed": 1,
}


def sentence_blocks(path: Path) -> list[str]:
    """The sentences of a CoNLL file as raw text blocks (lines kept byte for byte, BOM included)."""
    return [block for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]


def make_mini_corpus(root: Path, languages=("hau", "luo"), sizes=None) -> Path:
    """The first sentences of real MasakhaNER 1.0 files, laid out as `{language}/{split}.txt`."""
    sizes = sizes or {"train": 80, "dev": 30, "test": 30}
    for language in languages:
        for split, count in sizes.items():
            blocks = sentence_blocks(DATA / "masakhaner-1.0" / language / f"{split}.txt")[:count]
            write(root / language / f"{split}.txt", "\n\n".join(blocks) + "\n")
    return root


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> Path:
    return make_mini_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, mini_corpus) -> Path:
    """A real tiny-xlmr checkpoint (tokenizer trained on the mini corpus), built once per session."""
    from nertransfer.recipe import build_tiny_xlmr

    output = tmp_path_factory.mktemp("checkpoint") / "tiny"
    return build_tiny_xlmr(sorted(str(p) for p in mini_corpus.glob("*/train.txt")), output, TINY_RECIPE)
