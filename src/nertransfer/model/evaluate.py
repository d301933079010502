"""Zero-shot evaluation of one fine-tuned model on one language's test set (one cell)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from nertransfer.data.conll import keep_types, read_conll, write_conll
from nertransfer.data.files import exclusive, write_json
from nertransfer.data.fingerprints import check_planned, check_unchanged, data_sha256
from nertransfer.model.device import choose
from nertransfer.model.predict import load_model, predict_tags
from nertransfer.scoring.metrics import score_all_modes


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
    expected_sha256: str | None = None,
    language_adapter: str | None = None,
) -> dict:
    """Predict every token of `test_file`; write the predictions (token gold predicted) and the metrics JSON.

    `keep`: the label set the model was trained on; gold entities of other types become O.
    `precision`: as in training (`nertransfer.model.device`). `expected_sha256`: the test file's content the workflow
    planned the job on; the content read is recorded in the metrics and checked again at the end, so an edit of
    the test file during the job fails it, naming the file. The evaluation's folder is held (a lock file, removed
    at the end) while it runs, which is how `nertransfer status` knows it is at work. `language_adapter`: a MAD-X
    model's language adapter for this language (default: the one it was trained over).
    """
    with exclusive(Path(metrics_file).parent, f"the evaluation {metrics_file}", remove=True):
        return _evaluate(model_dir, test_file, types, predictions_file, metrics_file, max_length=max_length,
                         batch_size=batch_size, cell=cell, keep=keep, precision=precision, expected_sha256=expected_sha256,
                         language_adapter=language_adapter)


def _evaluate(model_dir, test_file, types, predictions_file, metrics_file, *, max_length, batch_size, cell, keep, precision,
              expected_sha256, language_adapter) -> dict:
    read = {"test": (str(test_file), data_sha256(test_file))}
    check_planned("test", *read["test"], expected_sha256)
    sentences = read_conll(test_file, types)
    if keep is not None:
        sentences, types = keep_types(sentences, keep), keep
    compute = choose(precision)
    tokenizer, model = load_model(model_dir, compute=compute, language_adapter=language_adapter)
    predicted = predict_tags(model, tokenizer, [s.tokens for s in sentences], max_length, batch_size=batch_size, compute=compute)
    gold = [s.tags for s in sentences]
    check_unchanged(read, "while this evaluation ran")
    write_conll(predictions_file, [s.tokens for s in sentences], gold, predicted)
    metrics = {**(cell or {}), "model": str(model_dir), "test_file": str(test_file), "test_sha256": read["test"][1],
               **({"language_adapter_path": str(language_adapter)} if language_adapter else {}),
               **score_all_modes(gold, predicted, types)}
    write_json(metrics_file, metrics)
    return metrics
