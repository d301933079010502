"""Evaluation throughput (words/s) of nertransfer's prediction against transformers' pipeline.

Same fine-tuned model (the tiny recipe trained one epoch on MasakhaNER 1.0 hau) and the same
test set (default: swa test), every word predicted, measured one after the other in one run:
  - nertransfer: the model loaded once, windows sorted by length, batches of 64 (the CPU default;
    larger batches are slower on CPU, measured: 64 -> 0.23 s, 256 -> 0.35 s, 1024 -> 0.82 s), decoding in bulk;
  - pipeline("token-classification") with batch_size 32, and with batch_size 1 (as the study ran
    its 1,530 evaluations), over the sentences joined by spaces, no label filtered out.
Usage: python bench/eval_throughput.py [--language swa]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import DATA, TYPES, machine, tiny_checkpoint, workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="swa")
    options = parser.parse_args()
    from transformers import pipeline

    from nertransfer.conll import read_conll
    from nertransfer.predict import load_model, predict_tags
    from nertransfer.train import train

    hp = {"epochs": 1, "learning_rate": 1e-3, "batch_size": 32, "eval_batch_size": 256, "warmup_ratio": 0.1,
          "weight_decay": 0.01, "max_length": 128, "max_grad_norm": 1.0, "seed": 1}
    with workspace() as folder:
        folder = Path(folder)
        checkpoint = tiny_checkpoint(folder)
        train(str(checkpoint), str(DATA / "hau" / "train.txt"), str(DATA / "hau" / "dev.txt"), TYPES, hp, folder / "run")
        sentences = [s.tokens for s in read_conll(DATA / options.language / "test.txt", TYPES)]
        words = sum(len(s) for s in sentences)
        tokenizer, model = load_model(str(folder / "run" / "model"))

        predict_tags(model, tokenizer, sentences[:64], max_length=128, batch_size=64)  # warm-up, as for the pipeline
        started = time.perf_counter()
        predicted = predict_tags(model, tokenizer, sentences, max_length=128, batch_size=64)
        ours = words / (time.perf_counter() - started)
        assert sum(map(len, predicted)) == words

        tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, device=model.device, ignore_labels=[])
        texts = [" ".join(s) for s in sentences]
        rates = {}
        tagger(texts[:64], batch_size=32)  # warm-up
        for batch_size in (32, 1):
            started = time.perf_counter()
            tagger(texts, batch_size=batch_size)
            rates[batch_size] = words / (time.perf_counter() - started)
    print(f"evaluation throughput, tiny recipe model, MasakhaNER 1.0 {options.language} test "
          f"({len(sentences)} sentences, {words} words), on {machine()}")
    print(f"  nertransfer predict (batch 64, sorted):  {ours:9.0f} words/s")
    print(f"  pipeline, batch_size 32:                 {rates[32]:9.0f} words/s   ratio {ours / rates[32]:.1f}x")
    print(f"  pipeline, batch_size 1:                  {rates[1]:9.0f} words/s   ratio {ours / rates[1]:.1f}x")


if __name__ == "__main__":
    main()
