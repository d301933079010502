"""Zero-shot evaluation of a cell: every token predicted, predictions and metrics written."""

from __future__ import annotations

import json

from conftest import TYPES
from nertransfer.data.conll import read_conll


def test_evaluation_predicts_every_token_even_of_sentences_longer_than_the_model(tmp_path, tiny_checkpoint, mini_corpus):
    from conftest import TINY_TRAINING, fine_tune
    from nertransfer.model.evaluate import evaluate

    run = tmp_path / "train"
    fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 1}, run)
    test = mini_corpus / "luo" / "test.txt"
    gold = read_conll(test, TYPES)
    assert max(len(s) for s in gold) > 16 / 2  # with max_length 16 some sentences need several windows
    metrics = evaluate(str(run / "model"), str(test), TYPES, predictions_file=tmp_path / "p.conll",
                       metrics_file=tmp_path / "m.json", max_length=16,
                       cell={"checkpoint": "tiny", "train_language": "hau", "seed": 1, "eval_language": "luo"})
    predicted = read_conll(tmp_path / "p.conll", TYPES, n_columns=3)
    assert [s.tokens for s in predicted] == [s.tokens for s in gold]
    assert [s.columns[0] for s in predicted] == [s.tags for s in gold]
    written = json.loads((tmp_path / "m.json").read_text())
    assert written == metrics
    assert written["eval_language"] == "luo" and written["support"] > 0
    assert {"precision", "recall", "f1", "support", "per_category", "strict"} <= set(written)
    # the predictions file scores to the same numbers on its own
    from nertransfer.scoring.metrics import score_files

    rescored = score_files(None, str(tmp_path / "p.conll"), TYPES)
    assert rescored["f1"] == written["f1"] and rescored["strict"] == written["strict"]


def test_an_evaluation_records_the_test_content_and_fails_if_the_file_changes_under_it(tmp_path, tiny_checkpoint, mini_corpus,
                                                                                    monkeypatch):
    import shutil

    import pytest

    import nertransfer.model.evaluate as evaluation
    from nertransfer.data.fingerprints import InputChanged, sha256_of

    test = shutil.copy(mini_corpus / "luo" / "test.txt", tmp_path / "test.txt")
    metrics = tmp_path / "eval" / "metrics.json"
    options = dict(predictions_file=tmp_path / "eval" / "predictions.conll", metrics_file=metrics, max_length=64)
    recorded = evaluation.evaluate(str(tiny_checkpoint), str(test), TYPES, **options, expected_sha256=sha256_of(test))
    assert recorded["test_sha256"] == sha256_of(test) and not (tmp_path / "eval" / "lock").exists()
    metrics.unlink()
    real = evaluation.predict_tags

    def edited_meanwhile(*args, **kwargs):
        with open(test, "a") as out:
            out.write("\nJii O\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "predict_tags", edited_meanwhile)
    with pytest.raises(InputChanged, match=r"\(test\) changed while this evaluation ran"):
        evaluation.evaluate(str(tiny_checkpoint), str(test), TYPES, **options)
    assert not metrics.exists() and not (tmp_path / "eval" / "lock").exists()
