"""Shared set-up for the benches: a tiny recipe model and labelled windows from shipped data."""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "masakhaner-1.0"
TYPES = ["DATE", "LOC", "ORG", "PER"]


def tiny_checkpoint(folder: Path, languages=("hau", "swa"), **settings) -> Path:
    """The offline default's recipe (2 layers, 128 wide, 8k Unigram) trained on a few languages."""
    from nertransfer.recipe import build_tiny_xlmr

    return build_tiny_xlmr([str(DATA / l / "train.txt") for l in languages], folder / "tiny", settings)


def machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    return f"{device}; torch {torch.__version__}"


def workspace() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="nertransfer-bench-")


def dump(data) -> str:
    return json.dumps(data, indent=None)
