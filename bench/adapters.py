"""What parameter-efficient transfer costs: full fine-tuning vs LoRA vs MAD-X, seconds per epoch and peak memory.

The same fine-tune (`nertransfer.model.train`: swa's first `--sentences` training sentences, batch
32, max_length 128, one epoch, dev scoring on 20 sentences) three ways, each in a process of its
own so that its peak resident memory (VmHWM: model, gradients, optimizer state, activations)
is its own:

- full: every weight trained (AdamW keeps two fp32 moments per weight);
- lora: a LoRA adapter (rank 8, alpha 16, on query and value) and the head (nertransfer.model.adapters);
- madx: the same over a frozen language adapter (a LoRA adapter of the same shape, as the adapt rule makes).

on two models: the tiny recipe (2 layers, 128 wide, 8k vocabulary) and xlm-roberta-base's
architecture with random weights (278M parameters, 250,002-row embedding; timing needs no
trained weights). It prints seconds per epoch scaled to swa's 2,109 training sentences, the peak
memory, the trainable parameters, and each method's ratio to full fine-tuning measured in the same
run; and how many fine-tunes of each fit in a memory of `--memory-gib` (an H200's 139 GiB), at
its peak. Usage: python bench/adapters.py [--sentences 256] [--models tiny base]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, dump, machine, workspace, xlmr_base_standin

METHODS = {"full": None, "lora": {"method": "lora", "rank": 8, "alpha": 16, "dropout": 0.1},
           "madx": {"method": "madx", "rank": 8, "alpha": 16, "dropout": 0.1, "language_adapters": "bench"}}
SWA_SENTENCES = 2109


def one(model: str, method: str, sentences: int, folder: Path) -> dict:
    """One fine-tune in this process: its epoch's seconds, its peak memory, its trainable parameters."""
    import torch

    from common import fine_tune, tiny_checkpoint

    torch.set_num_threads(1)
    checkpoint = tiny_checkpoint(folder) if model == "tiny" else xlmr_base_standin(folder)
    blocks = (DATA / "swa" / "train.txt").read_text(encoding="utf-8").split("\n\n")
    (folder / "train.txt").write_text("\n\n".join(blocks[:sentences]) + "\n", encoding="utf-8")
    (folder / "dev.txt").write_text("\n\n".join((DATA / "swa" / "dev.txt").read_text().split("\n\n")[:20]) + "\n")
    language_adapter = None
    if method == "madx":  # a language adapter of the same shape (untrained: its cost is its shape's)
        from peft import get_peft_model
        from transformers import AutoModelForMaskedLM

        from nertransfer.model.adapters import lora_config

        get_peft_model(AutoModelForMaskedLM.from_pretrained(checkpoint), lora_config(METHODS["lora"], task=False)
                       ).save_pretrained(folder / "language")
        language_adapter = str(folder / "language")
    hp = {"epochs": 1, "learning_rate": 1e-3, "batch_size": 32, "eval_batch_size": 64, "max_length": 128, "seed": 1,
          **({"adapter": METHODS[method]} if METHODS[method] else {})}
    Path("/proc/self/clear_refs").write_text("5")  # the peak from here on: the fine-tune's, not the set-up's above
    started = time.perf_counter()
    fine_tune(checkpoint, folder / "train.txt", folder / "dev.txt", folder / "run", hp, language_adapter=language_adapter)
    seconds = round(time.perf_counter() - started, 1)
    peak = round(_peak_kib() / 2**20, 2)  # the fine-tune's, before the count below
    epoch = json.loads((folder / "run" / "epochs.jsonl").read_text().splitlines()[0])
    return {"model": model, "method": method, "sentences": sentences, "epoch_seconds": epoch["seconds"],
            "job_seconds": seconds, "trainable_parameters": _trainable(checkpoint, method, language_adapter),
            "peak_rss_gib": peak}


def _peak_kib() -> int:
    """This process's peak resident memory (VmHWM, reset before the fine-tune). Not ru_maxrss: a child inherits its
    parent's high-water mark across fork and exec (the parent built a 278M-parameter model), and it cannot be reset."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1])


def _trainable(checkpoint, method: str, language_adapter) -> int:
    from nertransfer.model.adapters import with_adapter
    from nertransfer.model.predict import load_model

    _, model = load_model(str(checkpoint), [f"L{i}" for i in range(9)])
    if METHODS[method]:
        model = with_adapter(model, METHODS[method], language_adapter)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=256, help="training sentences timed (scaled to swa's 2,109)")
    parser.add_argument("--models", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    parser.add_argument("--memory-gib", type=float, default=139.0, help="the memory to fit fine-tunes in (H200: 139)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "METHOD"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.one:
        with workspace() as folder:
            print(dump(one(*options.one, options.sentences, Path(folder))))
        return
    print(f"# {machine()}; {options.sentences} swa sentences an epoch, scaled to {SWA_SENTENCES:,}")
    with workspace() as cache:
        os.environ.setdefault("BENCH_CHECKPOINTS", cache)  # the base stand-in built once, here, not in each measured process
        if "base" in options.models:
            xlmr_base_standin(Path(cache))
        measure(options)


def measure(options) -> None:
    for model in options.models:
        rows = {}
        for method in METHODS:
            out = subprocess.run([sys.executable, __file__, "--one", model, method, "--sentences", str(options.sentences)],
                                 check=True, capture_output=True, text=True).stdout
            rows[method] = json.loads(out.strip().splitlines()[-1])
        full = rows["full"]
        for row in rows.values():
            epoch = row["epoch_seconds"] * SWA_SENTENCES / row["sentences"]
            print(dump({**row, "swa_epoch_seconds": round(epoch, 1),
                        "epoch_vs_full": round(row["epoch_seconds"] / full["epoch_seconds"], 2),
                        "memory_vs_full": round(row["peak_rss_gib"] / full["peak_rss_gib"], 2),
                        "fit_in_memory": int(options.memory_gib // row["peak_rss_gib"])}))


if __name__ == "__main__":
    main()
