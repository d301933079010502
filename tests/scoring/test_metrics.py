"""Scoring: seqeval's conlleval convention and strict IOB2, checked against published runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, FIXTURES, write
from nertransfer.data.conll import ConllError
from nertransfer.scoring.metrics import conlleval_entities, score, score_files

BASELINES = FIXTURES / "masakhaner2-baselines"
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

    from nertransfer.data.conll import read_conll

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


def test_strict_chunking_agrees_with_seqevals_scheme_module_on_random_tags():
    import random

    from seqeval.scheme import IOB2, Entities

    from nertransfer.scoring.metrics import strict_entities

    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-ORG", "I--PER", "B-"]
    sentences = [[rng.choice(tags) for _ in range(rng.randint(1, 12))] for _ in range(3000)]
    reference = Entities(sentences, IOB2, suffix=False)
    assert strict_entities(sentences) == [e.to_tuple()[:3] + (e.to_tuple()[3] - 1,) for s in reference.entities for e in s]
    for predictions in RUNS[::6]:  # and on published runs, scores and all
        from nertransfer.data.conll import read_conll

        language = predictions.parent.name.split("_")[0]
        from seqeval.metrics import f1_score

        from nertransfer.data.conll import repair_iob2

        gold = [repair_iob2(s.tags)[0] for s in read_conll(DATA / "masakhaner-2.0" / language / "test.txt")]  # as ours does
        pred = [list(s.tags) for s in read_conll(predictions)]

        assert score(gold, pred, "strict")["f1"] == pytest.approx(f1_score(gold, pred, mode="strict", scheme=IOB2), abs=1e-12)


@pytest.mark.parametrize("gold_text, pred_text, message", [
    ("Ada B-PER\nwent O\n", "Ada B-PER B-PER\nwent O O\n\nto O\n", r"pred.txt:4: expected 3 fields as on line 1"),
    ("Ada B-PER\nwent O\n", "Ada O B-PER\nwent O O\n", r"pred.txt:1: its gold column disagrees with .*gold.txt: sentence 1, "
                                                        r"token 1 is 'O' here but 'B-PER' in the gold file \(line 1\)"),
    ("Ada B-PER B-PER\n", "Ada B-PER\n", r"gold.txt:1: expected 'token TAG', got 3 field"),
    ("Ada B-PER\n\nto O\n", "Ada B-PER\n", r"does not align with .*gold.txt: .*pred.txt ends after 1 sentences"),
    ("Ada B-PER\n", "Ada B-PER\n\nto O\n", r"does not align with .*gold.txt: .*gold.txt ends after 1 sentences"),
])
def test_structurally_inconsistent_files_are_refused_not_scored(tmp_path, gold_text, pred_text, message):
    gold, pred = write(tmp_path / "gold.txt", gold_text), write(tmp_path / "pred.txt", pred_text)
    with pytest.raises(ConllError, match=message):
        score_files(str(gold), str(pred))


def test_a_two_column_file_alone_is_refused_where_its_first_line_is(tmp_path):
    pred = write(tmp_path / "pred.txt", "\n\nAda B-PER\n")
    with pytest.raises(ConllError, match=r"pred.txt:3: expected 'token GOLD PRED' lines when no gold file is given"):
        score_files(None, str(pred))


def test_scoring_a_file_in_chunks_gives_the_numbers_of_scoring_it_whole(tmp_path, monkeypatch):
    from nertransfer.data.conll import read_conll
    from nertransfer.scoring import metrics

    predictions = RUNS[0]
    gold_file = DATA / "masakhaner-2.0" / predictions.parent.name.split("_")[0] / "test.txt"
    whole = metrics.score_all_modes([s.tags for s in read_conll(gold_file)], [s.tags for s in read_conll(predictions)],
                                    ["DATE", "LOC", "ORG", "PER"])
    monkeypatch.setattr(metrics, "SCORING_CHUNK", 7)
    assert score_files(str(gold_file), str(predictions), ["DATE", "LOC", "ORG", "PER"]) == whole


def test_a_large_file_is_scored_in_memory_flat_in_its_size(tmp_path):
    """The file is streamed: a 40 MB prediction file needs a fraction of its size in memory (it took ~21x before)."""

    block = (DATA / "masakhaner-2.0" / "pcm" / "test.txt").read_text(encoding="utf-8").strip("\n") + "\n\n"
    three_columns = "\n".join(f"{line} {line.split()[1]}" if line else "" for line in block.split("\n"))
    big = tmp_path / "big.txt"
    with big.open("w", encoding="utf-8") as out:
        while out.tell() < 40_000_000:
            out.write(three_columns)
    probe = ("import resource, sys; from nertransfer.scoring.metrics import score_files; score_files(None, sys.argv[1]);"
             "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    baseline = int(subprocess.run([sys.executable, "-c", probe.replace("score_files(None, sys.argv[1]);", ""), str(big)],
                                  check=True, capture_output=True, text=True).stdout)
    peak = int(subprocess.run([sys.executable, "-c", probe, str(big)], check=True, capture_output=True, text=True).stdout)
    assert (peak - baseline) * 1024 < 40_000_000 / 4, f"scoring took {(peak - baseline) / 1024:.0f} MB more than importing"


def test_score_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    pred = write(tmp_path / "pred.txt", "Ada B-PER B-PER\nwent O O\n")
    result = subprocess.run(f"{sys.executable} -m nertransfer score --pred '{pred}' | head -c 1", shell=True,
                            capture_output=True, text=True)
    assert result.stdout == "{" and "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_digit_tokens_written_as_numbers_still_align(tmp_path):
    gold = write(tmp_path / "gold.txt", "1 O\n000 B-DATE\n03 I-DATE\n")
    pred = write(tmp_path / "pred.txt", "1 O\n0 B-DATE\n3 I-DATE\n")
    assert score_files(str(gold), str(pred))["f1"] == 1.0


def test_a_misaligned_long_token_is_quoted_by_its_start_and_length(tmp_path):
    gold = write(tmp_path / "gold.txt", "Ada B-PER\n")
    pred = write(tmp_path / "pred.txt", "y" * 50_000 + " B-PER\n")
    with pytest.raises(ConllError) as error:
        score_files(str(gold), str(pred))
    assert "token 1 is 'yyyy" in str(error.value) and "... (50000 characters) here but 'Ada'" in str(error.value)
    assert len(str(error.value)) < 400


def test_scoring_a_line_of_nuls_is_refused_quickly_in_bounded_memory(tmp_path):
    """50 MB of NULs on one line made a 200 MB error at 531 MB of memory; now it stops after a MiB or two."""
    import time
    import tracemalloc

    nuls = tmp_path / "nuls.txt"
    nuls.write_bytes(b"\x00" * 50_000_000)
    started = time.perf_counter()
    tracemalloc.start()
    try:
        with pytest.raises(ConllError, match=r"nuls.txt:1: line longer than 1048576 bytes") as error:
            score_files(None, str(nuls))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(str(error.value)) < 300 and peak < 16 << 20 and time.perf_counter() - started < 5, (len(str(error.value)), peak)
