"""Scoring: seqeval's conlleval convention and strict IOB2, checked against published runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nertransfer.conll import ConllError
from nertransfer.metrics import conlleval_entities, score, score_files

from conftest import DATA, SHARED, write

BASELINES = SHARED / "fixtures" / "masakhaner2-baselines"
RUNS = sorted(BASELINES.glob("*/test_predictions*.txt"))


def published(result_file: Path) -> dict:
    """The numbers as the authors' script printed them: full floats and the 2-digit report."""
    text = result_file.read_text()
    numbers = {key: value for key, value in re.findall(r"^(f1|precision|recall) = (\S+)$", text, re.M)}
    rows = {}
    for name, p, r, f, support in re.findall(r"^\s*(\w+(?: avg)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)$", text, re.M):
        rows[name] = (p, r, f, int(support))
    return {"overall": numbers, "rows": rows}


def test_all_thirty_published_runs_are_present():
    assert len(RUNS) == 30


@pytest.mark.parametrize("predictions", RUNS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_published_runs_score_as_published_to_every_printed_digit(predictions: Path):
    language = predictions.parent.name.split("_")[0]
    expected = published(predictions.with_name(predictions.name.replace("predictions", "result")))
    ours = score_files(str(DATA / "masakhaner-2.0" / language / "test.txt"), str(predictions))

    for key, printed in expected["overall"].items():
        assert repr(ours[key]) == printed, key
    categories = ours["per_category"]
    for name, (p, r, f, support) in expected["rows"].items():
        if name == "micro avg":
            row = (ours["precision"], ours["recall"], ours["f1"], ours["support"])
        elif name in ("macro avg", "weighted avg"):
            weights = {c: (1 if name == "macro avg" else s["support"]) for c, s in categories.items()}
            total = sum(weights.values())
            row = tuple(sum(weights[c] * s[k] for c, s in categories.items()) / total for k in ("precision", "recall", "f1"))
            row += (ours["support"],)
        else:
            s = categories[name]
            row = (s["precision"], s["recall"], s["f1"], s["support"])
        assert tuple(f"{x:.2f}" for x in row[:3]) + (row[3],) == (p, r, f, support), name


def test_conlleval_mode_agrees_with_seqeval_default_mode_on_published_runs():
    from seqeval.metrics import classification_report

    from nertransfer.conll import read_conll

    for predictions in RUNS[::5]:
        language = predictions.parent.name.split("_")[0]
        gold = [list(s.tags) for s in read_conll(DATA / "masakhaner-2.0" / language / "test.txt")]
        pred = [list(s.tags) for s in read_conll(predictions)]
        reference = classification_report(gold, pred, output_dict=True)
        ours = score(gold, pred)
        for category, values in ours["per_category"].items():
            assert values["f1"] == pytest.approx(reference[category]["f1-score"], abs=1e-12)
            assert values["support"] == reference[category]["support"]


ODD_SEQUENCES = [
    ["I-PER", "I-PER", "O"],  # entity opening with I-
    ["B-PER", "I-LOC", "I-LOC"],  # type change inside an entity
    ["B-ORG", "B-ORG", "I-ORG", "O", "I-DATE"],
    ["O", "I-LOC", "B-LOC", "I-PER"],
]


def test_conlleval_chunking_matches_seqeval_on_odd_sequences():
    from seqeval.metrics.sequence_labeling import get_entities

    for tags in ODD_SEQUENCES:
        ours = [(t, b, e) for _, t, b, e in conlleval_entities([tags])]
        assert ours == get_entities(tags)


def test_strict_mode_drops_predicted_entities_that_open_with_i_but_keeps_gold_ones():
    gold = [["I-PER", "I-PER", "O", "B-LOC"]]
    pred = [["I-PER", "I-PER", "O", "B-LOC"]]
    assert score(gold, pred, "conlleval")["f1"] == 1.0
    strict = score(gold, pred, "strict")
    assert strict["support"] == 2  # the gold PER entity is repaired, not lost
    assert strict["per_category"]["PER"]["correct"] == 0
    assert strict["per_category"]["LOC"]["f1"] == 1.0


def test_categories_named_in_types_are_reported_even_without_entities():
    result = score([["B-PER"]], [["B-PER"]], types=["DATE", "PER"])
    assert result["per_category"]["DATE"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0, "predicted": 0, "correct": 0,
    }


def test_misaligned_prediction_file_names_sentence_and_token(tmp_path):
    gold = write(tmp_path / "gold.txt", "Ada B-PER\nwent O\n\nto O\nLagos B-LOC\n")
    pred = write(tmp_path / "pred.txt", "Ada B-PER\nwent O\n\nto O\nAbuja B-LOC\n")
    with pytest.raises(ConllError, match=r"pred.txt:5: .*sentence 2, token 2 is 'Abuja' here but 'Lagos'"):
        score_files(str(gold), str(pred))
    short = write(tmp_path / "short.txt", "Ada B-PER\nwent O\n\nto O\n")
    with pytest.raises(ConllError, match=r"sentence 2 has 1 tokens here but 2 in the gold file"):
        score_files(str(gold), str(short))


def test_three_column_file_scores_without_a_gold_file(tmp_path):
    pred = write(tmp_path / "pred.txt", "Ada B-PER B-PER\nwent O O\nto O O\nLagos B-LOC O\n")
    result = score_files(None, str(pred))
    assert (result["precision"], result["recall"], result["support"]) == (1.0, 0.5, 2)


def test_score_command_prints_json_and_imports_no_torch(tmp_path):
    pred = RUNS[0]
    language = pred.parent.name.split("_")[0]
    probe = (
        "import sys, runpy; sys.argv = ['nertransfer', 'score', '--gold', sys.argv[1], '--pred', sys.argv[2]];"
        "from nertransfer.cli import main\ntry: main()\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules, 'scoring imported torch or sklearn'"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(DATA / "masakhaner-2.0" / language / "test.txt"), str(pred)],
        check=True, capture_output=True, text=True,
    ).stdout
    result = json.loads(out)
    assert set(result) >= {"precision", "recall", "f1", "support", "per_category"}
    assert set(result["per_category"]) == {"DATE", "LOC", "ORG", "PER"}
    assert all(0 <= result[k] <= 1 for k in ("precision", "recall", "f1"))


def test_digit_tokens_written_as_numbers_still_align(tmp_path):
    gold = write(tmp_path / "gold.txt", "1 O\n000 B-DATE\n03 I-DATE\n")
    pred = write(tmp_path / "pred.txt", "1 O\n0 B-DATE\n3 I-DATE\n")
    assert score_files(str(gold), str(pred))["f1"] == 1.0
