"""Shared set-up for the benches: a tiny recipe model and labelled windows from shipped data."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data" / "masakhaner-1.0"
TYPES = ["DATE", "LOC", "ORG", "PER"]


def tiny_checkpoint(folder: Path, languages=("hau", "swa"), **settings) -> Path:
    """The offline default's recipe (2 layers, 128 wide, 8k Unigram) trained on a few languages."""
    from nertransfer.model.recipe import build_tiny_xlmr

    return build_tiny_xlmr([str(DATA / language / "train.txt") for language in languages], folder / "tiny", settings)


XLMR_BASE = dict(hidden_size=768, layers=12, heads=12, vocab_size=8000)
XLMR_VOCAB = 250_002


def xlmr_base_standin(folder: Path, tiny: bool = False) -> Path:
    """xlm-roberta-base's architecture with random weights (no weights can be downloaded on a lent GPU).

    The recipe's Unigram tokenizer trained on all MasakhaNER 1.0 training text, and the model's
    embedding resized to XLM-R's 250,002 rows, so the optimizer updates 278M parameters, as for
    the real model. `tiny`: the offline recipe itself, for a smoke test on CPU.
    """
    from transformers import XLMRobertaForMaskedLM

    from nertransfer.model.recipe import build_tiny_xlmr

    cache = os.environ.get("BENCH_CHECKPOINTS")  # a folder to build it in once for several benches (gpu_session.sh)
    folder = Path(cache) / ("tiny" if tiny else "base") if cache else folder
    if cache and (folder / "xlmr" / "config.json").exists():
        return folder / "xlmr"
    languages = sorted(p.name for p in DATA.iterdir() if p.is_dir())
    path = build_tiny_xlmr([str(DATA / language / "train.txt") for language in languages], folder / "xlmr",
                           {} if tiny else XLMR_BASE)
    if not tiny:
        model = XLMRobertaForMaskedLM.from_pretrained(path)
        model.resize_token_embeddings(XLMR_VOCAB)
        model.save_pretrained(path)
    return path


def fine_tune(checkpoint, train_file, dev_file, output, hyperparameters: dict, **job) -> dict:
    """nertransfer.model.train of one fine-tune, as a `nertransfer train` job runs it."""
    from nertransfer.model.train import FineTune, TrainingSettings, train

    job = FineTune(str(checkpoint), str(train_file), str(dev_file), TYPES, Path(output), **job)
    return train(job, TrainingSettings.from_mapping(hyperparameters))


def machine() -> str:
    import torch

    device = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
              else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)")
    return f"{device}; torch {torch.__version__}"


def wall_seconds(command: list, cwd) -> float:
    """Wall-clock seconds of a command run to its end in `cwd` (its output kept out of the bench's)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def workspace() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="nertransfer-bench-")


def dump(data) -> str:
    return json.dumps(data, indent=None)
