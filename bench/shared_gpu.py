"""Several fine-tunes sharing one GPU against one at a time: device time per fine-tune.

One xlm-roberta-base fine-tune uses 5.5 of an H200's 139 GiB and under 3% of its arithmetic
(bench/README.md): the host launching kernels is the limit, and each job has its own host
process. This bench runs the same fine-tune as `nertransfer train` processes (the command the
workflow runs: imports, model load, epochs with dev scoring, model save): first one alone, then
`--jobs` at once on the same device with different seeds, and prints the wall time per
fine-tune of each and the ratio, and the paper matrix's GPU-hours at that packing. On one GPU
machine, `snakemake -j K` without `--resources gpus=1` runs K fine-tunes on the GPU at once
(the train rule's `gpus=1` limits only where a limit is given, or on Slurm, one GPU per job).
Model: the xlm-roberta-base architecture with random weights (see finetune_gpu.py), or `--tiny`
(a CPU smoke test; there each process gets one thread).
Usage: python bench/shared_gpu.py [--jobs 4] [--epochs 5] [--language swa] [--tiny]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, TYPES, machine, workspace, xlmr_base_standin
from finetune_gpu import PAPER


def fine_tunes(checkpoint: Path, seeds: list[int], hp: dict, folder: Path, language: str) -> float:
    """Run one `nertransfer train` process per seed, all at once; the wall time until the last ends."""
    commands = [
        [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(checkpoint),
         "--train", str(DATA / language / "train.txt"), "--dev", str(DATA / language / "dev.txt"),
         "--types", *TYPES, "--hyperparameters", json.dumps({**hp, "seed": seed}),
         "--output", str(folder / f"seed{seed}"), "--threads", "1"]
        for seed in seeds
    ]
    started = time.perf_counter()
    processes = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "HF_HUB_OFFLINE": "1"}) for c in commands]
    for process in processes:
        _, errors = process.communicate()
        if process.returncode:
            raise SystemExit(f"a fine-tune failed:\n{errors[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="fine-tunes at once on the one device")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--language", default="swa")
    parser.add_argument("--tiny", action="store_true", help="the tiny recipe instead (CPU smoke test)")
    options = parser.parse_args()

    hp = {**PAPER, "epochs": options.epochs}
    with workspace() as folder:
        folder = Path(folder)
        checkpoint = xlmr_base_standin(folder, options.tiny)
        alone = fine_tunes(checkpoint, [1], hp, folder / "alone", options.language)
        together = fine_tunes(checkpoint, list(range(1, options.jobs + 1)), hp, folder / "together", options.language)
        dev_f1 = [json.loads((folder / "together" / f"seed{s}" / "dev_metrics.json").read_text())["f1"]
                  for s in range(1, options.jobs + 1)]
    per_job = together / options.jobs
    model = "tiny recipe" if options.tiny else "xlm-roberta-base architecture (random init)"
    print(f"fine-tunes sharing one device, {model}, MasakhaNER 1.0 {options.language} train, {options.epochs} epochs, "
          f"batch {hp['batch_size']}, on {machine()}")
    print(f"  one alone:             {alone:8.1f} s")
    print(f"  {options.jobs} at once:             {together:8.1f} s, {per_job:.1f} s of device time per fine-tune "
          f"(dev F1 {', '.join(f'{f:.3f}' for f in dev_f1)})")
    print(f"  device time per fine-tune, alone / shared: {alone / per_job:.2f}x")
    if not options.tiny:
        print(f"  per 50 epochs, scaled from {options.epochs}: alone {alone * 50 / options.epochs:.0f} s, shared "
              f"{per_job * 50 / options.epochs:.0f} s; paper matrix's 150 fine-tunes: "
              f"{150 * alone * 50 / options.epochs / 3600:.1f} vs {150 * per_job * 50 / options.epochs / 3600:.1f} GPU-hours")


if __name__ == "__main__":
    main()
