"""Evaluation throughput (words/s) of nertransfer's prediction against transformers' pipeline.

Same fine-tuned model (the tiny recipe trained one epoch on MasakhaNER 1.0 hau) and the same
test set (default: swa test), every word predicted, measured one after the other in one run:
  - nertransfer: the model loaded once, windows sorted by length, batches of 64 (the CPU default;
    larger batches are slower on CPU, measured: 64 -> 0.23 s, 256 -> 0.35 s, 1024 -> 0.82 s), decoding in bulk;
  - pipeline("token-classification") with batch_size 32, and with batch_size 1 (as the study ran
    its 1,530 evaluations), over the sentences joined by spaces, no label filtered out.
Each is run once untimed (warm-up), then `--rounds` times in turn (ours, pipeline 32, pipeline 1,
ours, ...); the medians are compared, so that a moment of load on a shared machine falls on one
round, not on one side.
Usage: python bench/eval_throughput.py [--language swa] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from common import DATA, TYPES, fine_tune, machine, tiny_checkpoint, workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="swa")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    from transformers import pipeline

    from nertransfer.data.conll import read_conll
    from nertransfer.model.predict import load_model, predict_tags

    hp = {"epochs": 1, "learning_rate": 1e-3, "batch_size": 32, "eval_batch_size": 256, "warmup_ratio": 0.1,
          "weight_decay": 0.01, "max_length": 128, "max_grad_norm": 1.0, "seed": 1}
    with workspace() as folder:
        folder = Path(folder)
        checkpoint = tiny_checkpoint(folder)
        fine_tune(checkpoint, DATA / "hau" / "train.txt", DATA / "hau" / "dev.txt", folder / "run", hp)
        sentences = [s.tokens for s in read_conll(DATA / options.language / "test.txt", TYPES)]
        words = sum(len(s) for s in sentences)
        tokenizer, model = load_model(str(folder / "run" / "model"))
        tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, device=model.device, ignore_labels=[])
        texts = [" ".join(s) for s in sentences]
        sides = {
            "nertransfer predict (batch 64, sorted)": lambda: predict_tags(model, tokenizer, sentences, max_length=128,
                                                                           batch_size=64),
            "pipeline, batch_size 32": lambda: tagger(texts, batch_size=32),
            "pipeline, batch_size 1": lambda: tagger(texts, batch_size=1),
        }
        seconds: dict[str, list[float]] = {name: [] for name in sides}
        predicted = [run() for run in sides.values()][0]  # warm-up
        assert sum(map(len, predicted)) == words
        for _ in range(options.rounds):
            for name, run in sides.items():
                started = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - started)
    rates = {name: words / statistics.median(times) for name, times in seconds.items()}
    ours_name = next(iter(sides))
    ours = rates.pop(ours_name)
    print(f"evaluation throughput, tiny recipe model, MasakhaNER 1.0 {options.language} test "
          f"({len(sentences)} sentences, {words} words), median of {options.rounds} rounds, on {machine()}")
    print(f"  {ours_name + ':':42} {ours:9.0f} words/s   ({min(seconds[ours_name]):.3f}-{max(seconds[ours_name]):.3f} s)")
    for name, rate in rates.items():
        print(f"  {name + ':':42} {rate:9.0f} words/s   ratio {ours / rate:.1f}x   "
              f"({min(seconds[name]):.3f}-{max(seconds[name]):.3f} s)")


if __name__ == "__main__":
    main()
