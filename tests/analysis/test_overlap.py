"""The overlap analysis: how much of a test set the training set has seen, and its correlation with F1."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import TYPES, cells_frame, write
from nertransfer.analysis.overlap import overlap, overlap_correlations, write_overlap


@pytest.fixture
def corpus(tmp_path):
    """Two languages: `a` trains on Kano (LOC) and Musa (PER); `b`'s test has Kano as LOC and Ali as PER."""
    train_a = write(tmp_path / "a" / "train.txt", "Musa B-PER\nwent O\nto O\nKano B-LOC\n")
    train_b = write(tmp_path / "b" / "train.txt", "Ali B-PER\nsaw O\nlake O\n")
    test_a = write(tmp_path / "a" / "test.txt", "musa B-PER\nwent O\n")
    test_b = write(tmp_path / "b" / "test.txt", "Kano B-LOC\nsaw O\nAli B-PER\nthere O\n")
    return {"a": {"a": str(train_a)}, "b": {"b": str(train_b)}}, {"a": str(test_a), "b": str(test_b)}


def test_overlap_is_the_share_of_test_tokens_and_mentions_seen_in_training(corpus):
    pairs = overlap(*corpus, TYPES).set_index(["train_language", "eval_language"])
    # b's test: Kano saw Ali there -> from a's training: Kano (1 of 4 tokens), mention LOC Kano (1 of 2)
    assert pairs.loc[("a", "b"), "token_overlap"] == pytest.approx(25.0)
    assert pairs.loc[("a", "b"), "entity_overlap"] == pytest.approx(50.0)
    # lower-cased: musa in a's test is Musa of a's training, as word and as PER mention
    assert pairs.loc[("a", "a"), "token_overlap"] == pytest.approx(100.0)
    assert pairs.loc[("a", "a"), "entity_overlap"] == pytest.approx(100.0)
    assert pairs.loc[("b", "b"), "entity_overlap"] == pytest.approx(50.0)  # PER Ali seen, LOC Kano not


def test_correlations_give_pearson_and_spearman_with_p_values():
    pairs = pd.DataFrame({"checkpoint": "x", "token_overlap": [1, 2, 3, 4, 5], "entity_overlap": [5, 4, 3, 2, 1],
                          "f1": [10, 20, 30, 40, 60]})
    table = overlap_correlations(pairs)
    token, entity = table.loc[("x", "token_overlap")], table.loc[("x", "entity_overlap")]
    assert token["spearman_rho"] == pytest.approx(1.0) and entity["spearman_rho"] == pytest.approx(-1.0)
    assert 0.97 < token["pearson_r"] < 1.0 and token["pearson_p"] < 0.01
    too_few = overlap_correlations(pairs.head(2))
    assert too_few["pearson_r"].isna().all() and (too_few["pairs"] == 2).all()


def test_write_overlap_reads_cells_csv_and_writes_tables_and_a_scatter(tmp_path, corpus):
    rows = [{"checkpoint": "base", "train_language": t, "eval_language": e, "category": "overall", "f1": f1}
            for t, e, f1 in (("a", "b", 30.0), ("b", "a", 10.0), ("a", "a", 90.0), ("b", "b", 80.0))]
    cells_frame(rows).to_csv(tmp_path / "cells.csv", index=False)
    written = write_overlap(tmp_path / "cells.csv", *corpus, TYPES, tmp_path / "results")
    from nertransfer.experiment.layout import overlap_names

    assert {p.name for p in written} == set(overlap_names())
    pairs = pd.read_csv(tmp_path / "results" / "overlap.csv")
    assert sorted(zip(pairs["train_language"], pairs["eval_language"], strict=True)) == [
        ("a", "b"), ("b", "a")]  # zero-shot pairs only


def test_the_analyses_tables_and_config_import_no_torch():
    import subprocess
    import sys

    probe = ("import sys, nertransfer.analysis.overlap, nertransfer.analysis.checkpoint_effects, "
             "nertransfer.analysis.grid_search,"
             "nertransfer.analysis.learning_curve, nertransfer.analysis.tables, "
             "nertransfer.analysis.records, nertransfer.analysis.rendering, nertransfer.experiment.layout,"
             "nertransfer.experiment.config;"
             "assert 'torch' not in sys.modules, 'a module of tables or analyses imported torch'")
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_a_training_set_s_overlap_is_that_of_its_union_and_its_pairs_leave_out_its_own_languages(tmp_path, corpus):
    train, test = corpus
    union = {"a+b": {**train["a"], **train["b"]}}
    pairs = overlap(union, test, TYPES).set_index(["train_language", "eval_language"])
    # b's test (Kano saw Ali there): Kano from a, saw and Ali from b -> 3 of 4 tokens, both mentions
    assert pairs.loc[("a+b", "b"), "token_overlap"] == pytest.approx(75.0)
    assert pairs.loc[("a+b", "b"), "entity_overlap"] == pytest.approx(100.0)
    c_test = write(tmp_path / "c" / "test.txt", "Ali B-PER\nwent O\n")
    rows = [{"checkpoint": "base", "train_language": t, "eval_language": e, "category": "overall", "f1": f1}
            for t, e, f1 in (("a+b", "a", 90.0), ("a+b", "b", 80.0), ("a+b", "c", 40.0), ("a", "c", 10.0))]
    cells_frame(rows).to_csv(tmp_path / "cells.csv", index=False)
    write_overlap(tmp_path / "cells.csv", {**train, **union}, {**test, "c": str(c_test)}, TYPES, tmp_path / "results")
    pairs = pd.read_csv(tmp_path / "results" / "overlap.csv")
    assert sorted(zip(pairs["train_language"], pairs["eval_language"], strict=True)) == [("a", "c"), ("a+b", "c")]
