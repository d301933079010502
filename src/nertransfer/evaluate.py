"""Zero-shot evaluation of one fine-tuned model on one language's test set (one cell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .conll import keep_types, read_conll, write_conll
from .device import choose
from .files import write_json
from .metrics import score_all_modes
from .predict import load_model, predict_tags


def evaluate(
    model_dir: str,
    test_file: str,
    types: Sequence[str],
    *,
    predictions_file: str | Path,
    metrics_file: str | Path,
    max_length: int,
    batch_size: int = 64,
    cell: Mapping[str, Any] | None = None,
    keep: Sequence[str] | None = None,
    precision: str = "auto",
) -> dict:
    """Predict every token of `test_file`; write the predictions (token gold predicted) and the metrics JSON.

    `keep`: the label set the model was trained on; gold entities of other types become O.
    `precision`: as in training (`nertransfer.device`).
    """
    sentences = read_conll(test_file, types)
    if keep is not None:
        sentences, types = keep_types(sentences, keep), keep
    compute = choose(precision)
    tokenizer, model = load_model(model_dir, compute=compute)
    predicted = predict_tags(model, tokenizer, [s.tokens for s in sentences], max_length, batch_size=batch_size, compute=compute)
    gold = [s.tags for s in sentences]
    write_conll(predictions_file, [s.tokens for s in sentences], gold, predicted)
    metrics = {**(cell or {}), "model": str(model_dir), "test_file": str(test_file), **score_all_modes(gold, predicted, types)}
    write_json(metrics_file, metrics)
    return metrics
