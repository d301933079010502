"""Training throughput (subword tokens/s) of `nertransfer train` against Hugging Face `Trainer`.

Same model (the tiny recipe, or with --xlmr-base the xlm-roberta-base architecture, random
weights, 250,002-row embedding), same windows and labels (MasakhaNER 1.0 hau train), same batch size, sequence lengths,
epochs, optimizer settings and length-grouped dynamic padding, measured one after the other in
one run. Tokens are the non-padding subwords trained on; time is the training loop only (our
per-epoch dev scoring and Trainer's evaluation are both off or excluded). The two take turns
`--rounds` times (ours, Trainer, ours, ...) and the medians are compared, so that a moment of
load on a shared machine falls on one round, not on one side.
Usage: python bench/train_throughput.py [--epochs 2] [--rounds 3] [--xlmr-base] [--language hau]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from common import DATA, TYPES, fine_tune, machine, tiny_checkpoint, workspace, xlmr_base_standin


def hf_trainer_seconds(checkpoint, windows, labels, hp, folder) -> float:
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    from nertransfer.data.conll import bio_labels

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    names = bio_labels(TYPES)
    model = AutoModelForTokenClassification.from_pretrained(checkpoint, num_labels=len(names))
    rows = []
    for window, window_labels in zip(windows, labels, strict=True):
        targets = [-100] * len(window)
        for start, label in zip(window.word_starts, window_labels, strict=True):
            targets[start] = label
        rows.append({"input_ids": window.input_ids, "attention_mask": [1] * len(window), "labels": targets})
    arguments = TrainingArguments(
        output_dir=str(folder / "hf"), per_device_train_batch_size=hp["batch_size"], num_train_epochs=hp["epochs"],
        learning_rate=hp["learning_rate"], weight_decay=hp["weight_decay"],
        warmup_steps=int(hp["warmup_ratio"] * -(-len(rows) // hp["batch_size"]) * hp["epochs"]),
        max_grad_norm=hp["max_grad_norm"], train_sampling_strategy="group_by_length", seed=hp["seed"], save_strategy="no",
        eval_strategy="no", report_to=[], logging_steps=10**9, dataloader_num_workers=0, disable_tqdm=True,
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(), tf32=torch.cuda.is_available() or None,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=rows,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    started = time.perf_counter()
    trainer.train()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--language", default="hau")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xlmr-base", action="store_true", help="xlm-roberta-base architecture, random weights")
    options = parser.parse_args()
    from nertransfer.model.train import labelled_windows

    hp = {"epochs": options.epochs, "learning_rate": 1e-3, "batch_size": options.batch_size, "eval_batch_size": 256,
          "warmup_ratio": 0.1, "weight_decay": 0.01, "max_length": 128, "max_grad_norm": 1.0, "seed": 1,
          "eval_every": 10**6}
    with workspace() as folder:
        from pathlib import Path

        folder = Path(folder)
        checkpoint = xlmr_base_standin(folder) if options.xlmr_base else tiny_checkpoint(folder)
        from transformers import AutoTokenizer

        windows, labels = labelled_windows(AutoTokenizer.from_pretrained(checkpoint),
                                            str(DATA / options.language / "train.txt"), TYPES, hp["max_length"])
        tokens = sum(len(w) for w in windows) * hp["epochs"]

        if torch.cuda.is_available():  # pay CUDA's one-time start (context, cuBLAS, kernel loading) before either is timed:
            # on the H200 the first epoch in a process took 22 s against 3 s later, and whoever ran first paid it
            fine_tune(checkpoint, DATA / options.language / "dev.txt", DATA / options.language / "dev.txt", folder / "warm-up",
                      {**hp, "epochs": 1})
        ours, theirs = [], []
        for round_ in range(options.rounds):
            run = folder / f"ours-{round_}"
            fine_tune(checkpoint, DATA / options.language / "train.txt", DATA / options.language / "dev.txt", run, hp)
            epochs = [json.loads(line) for line in (run / "epochs.jsonl").read_text().splitlines()]
            ours.append(tokens / sum(tokens / hp["epochs"] / e["train_tokens_per_second"] for e in epochs))
            theirs.append(tokens / hf_trainer_seconds(checkpoint, windows, labels, hp, folder))
    model = "xlm-roberta-base architecture (random init)" if options.xlmr_base else "tiny recipe (2 layers, 128 wide)"
    print(f"training throughput, {model}, MasakhaNER 1.0 {options.language} train ({len(windows)} windows, "
          f"{tokens // hp['epochs']} subwords/epoch), batch {hp['batch_size']}, {hp['epochs']} epochs, "
          f"median of {options.rounds} rounds, on {machine()}")
    print(f"  nertransfer train:    {statistics.median(ours):10.0f} tokens/s   "
          f"(rounds: {', '.join(f'{r:.0f}' for r in ours)})")
    print(f"  Hugging Face Trainer: {statistics.median(theirs):10.0f} tokens/s   "
          f"(rounds: {', '.join(f'{r:.0f}' for r in theirs)})")
    print(f"  ratio of the medians: {statistics.median(ours) / statistics.median(theirs):.2f}x")


if __name__ == "__main__":
    main()
