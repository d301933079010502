"""Fine-tunes packed on one GPU as a Slurm allocation runs them: K = 1, 2, 4, 5, 8 at once, device time per fine-tune.

An allocation of the slurm profile runs the fine-tunes of a row of the matrix (up to
`submitit-gpu-jobs-at-once`, 5 by default) side by side on its one GPU, in K long-lived workers
(`nertransfer warm-server --reuse`, started by the workflow on the node): each worker starts CUDA,
cuBLAS and the imports once, then runs its fine-tunes and evaluations one after another. This
bench does exactly that for each K in `--packing`: it starts a reuse server with K workers, hands
it K `nertransfer train` jobs (the command the workflow runs) for a one-epoch warm-up on the dev
set (each worker's start-up: timed apart), then K measured fine-tunes of `--epochs` epochs with
different seeds, then the evaluation of those K models on all ten test sets (10 K `nertransfer
evaluate` jobs, K at a time). It prints per K: seconds per epoch as each fine-tune sees it, device
seconds per epoch and per fine-tune (wall / K), the 50-epoch fine-tune projected, device seconds
per evaluation, and the paper matrix's GPU-hours at that packing (190 fine-tunes and 1,900
evaluations run for its 195 cells, 38 allocations paying the start-up once each). Model: the xlm-roberta-base
architecture with random weights (see finetune_gpu.py), or `--tiny` (a CPU smoke test: there the
workers share the machine's cores, which says nothing about a GPU).
Usage: python bench/shared_gpu.py [--packing 1 2 4 5 8] [--epochs 3] [--language swa] [--tiny]
                                  [--static-shapes] [--cuda-graphs]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, TYPES, machine, workspace, xlmr_base_standin
from finetune_gpu import PAPER, PAPER_ALLOCATIONS, PAPER_EVALUATIONS, PAPER_FINE_TUNES

EPOCHS_PROJECTED = 50


def train_command(checkpoint: Path, train: Path, dev: Path, hp: dict, output: Path) -> list[str]:
    return [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(checkpoint), "--train", str(train),
            "--dev", str(dev), "--types", *TYPES, "--hyperparameters", json.dumps(hp), "--output", str(output / "train"),
            "--model-output", str(output / "model"), "--save-state-every-seconds", "300", "--threads", "1"]


def evaluate_command(model: Path, test_language: str, hp: dict, output: Path) -> list[str]:
    return [sys.executable, "-m", "nertransfer", "evaluate", "--model", str(model),
            "--test", str(DATA / test_language / "test.txt"), "--types", *TYPES,
            "--predictions", str(output / "predictions.txt"), "--metrics", str(output / "metrics.json"),
            "--max-length", str(hp["max_length"]), "--batch-size", str(hp["eval_batch_size"]), "--threads", "1"]


def all_at_once(commands: list[list[str]]) -> float:
    """Start every command (each hands itself to the server, which runs as many at once as it has workers);
    the wall time until the last one ends."""
    started = time.perf_counter()
    processes = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for c in commands]
    for process in processes:
        _, errors = process.communicate()
        if process.returncode:
            raise SystemExit(f"a job failed:\n{errors[-3000:]}")
    return time.perf_counter() - started


def packed(k: int, checkpoint: Path, hp: dict, folder: Path, language: str) -> dict:
    """K fine-tunes and their evaluations in one server of K reuse workers, as an allocation runs them."""
    from nertransfer.runtime.warm import WarmServer

    server = WarmServer.start(folder / "workers.log", slots=k, reuse=True, wait_seconds=120)
    try:
        train, dev = DATA / language / "train.txt", DATA / language / "dev.txt"
        warm_up = all_at_once([train_command(checkpoint, dev, dev, {**hp, "epochs": 1, "seed": 100 + s},
                                             folder / f"warm-up{s}") for s in range(k)])
        runs = [folder / f"seed{s}" for s in range(1, k + 1)]
        fine_tunes = all_at_once([train_command(checkpoint, train, dev, {**hp, "seed": s}, run)
                                  for s, run in enumerate(runs, start=1)])
        languages = sorted(p.name for p in DATA.iterdir() if p.is_dir())
        evaluations = all_at_once([evaluate_command(run / "model", test, hp, run / "eval" / test)
                                   for run in runs for test in languages])
    finally:
        server.stop()
    epochs = [json.loads(line) for run in runs for line in (run / "train" / "epochs.jsonl").read_text().splitlines()]
    steady = [e["seconds"] for e in epochs if e["epoch"] > 1] or [e["seconds"] for e in epochs]
    epoch = statistics.median(steady)
    fixed = max(0.0, fine_tunes - hp["epochs"] * epoch)  # load, save, dev scoring beyond the epochs' own time
    return {"k": k, "warm_up": warm_up, "fine_tunes": fine_tunes, "epoch": epoch, "evaluations": evaluations,
            "per_fine_tune": fine_tunes / k, "per_epoch": epoch / k,
            "projected": (fixed + EPOCHS_PROJECTED * epoch) / k, "per_evaluation": evaluations / (k * len(languages)),
            "dev_f1": [json.loads((run / "train" / "dev_metrics.json").read_text())["f1"] for run in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packing", type=int, nargs="+", default=[1, 2, 4, 5, 8], help="fine-tunes at once (K)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--language", default="swa")
    parser.add_argument("--tiny", action="store_true", help="the tiny recipe instead (CPU smoke test)")
    parser.add_argument("--static-shapes", action="store_true", help="training setting static_shapes")
    parser.add_argument("--cuda-graphs", action="store_true", help="training setting cuda_graphs (a GPU's)")
    options = parser.parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    hp = {**PAPER, "epochs": options.epochs, **({"static_shapes": True} if options.static_shapes else {}),
          **({"cuda_graphs": True} if options.cuda_graphs else {})}
    model = "tiny recipe" if options.tiny else "xlm-roberta-base architecture (random init)"
    print(f"fine-tunes packed on one device as an allocation runs them (K reuse workers), {model}, MasakhaNER 1.0 "
          f"{options.language} train, {options.epochs} epochs, batch {hp['batch_size']}, static_shapes "
          f"{options.static_shapes}, cuda_graphs {options.cuda_graphs}, on {machine()}", flush=True)
    print(f"  {'K':>2} {'start-up':>9} {'s/epoch':>8} {'device s/epoch':>14} {'device s/fine-tune':>18} "
          f"{'50 epochs':>10} {'s/eval':>7} {'paper GPU-h':>11}  dev F1", flush=True)
    with workspace() as folder:
        folder = Path(folder)
        checkpoint = xlmr_base_standin(folder, options.tiny)
        results = []
        for k in options.packing:
            r = packed(k, checkpoint, hp, folder / f"k{k}", options.language)
            # each allocation starts its workers once (they start side by side: the warm-up's wall time)
            hours = (PAPER_FINE_TUNES * r["projected"] + PAPER_EVALUATIONS * r["per_evaluation"]
                     + PAPER_ALLOCATIONS * r["warm_up"]) / 3600
            results.append({**r, "paper_gpu_hours": hours})
            print(f"  {k:>2} {r['warm_up']:8.1f}s {r['epoch']:7.2f}s {r['per_epoch']:13.2f}s {r['per_fine_tune']:17.1f}s "
                  f"{r['projected']:9.1f}s {r['per_evaluation']:6.2f}s {hours:11.2f}  "
                  + ", ".join(f"{f:.3f}" for f in r["dev_f1"]), flush=True)
    alone = results[0]
    for r in results[1:]:
        print(f"  K={r['k']}: device time per fine-tune {alone['per_fine_tune'] / r['per_fine_tune']:.2f}x less than "
              f"K={alone['k']}")
    print("  results: " + json.dumps(results))


if __name__ == "__main__":
    main()
