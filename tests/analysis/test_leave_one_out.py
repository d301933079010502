"""The leave-one-out table: each held-out language's F1 from the other languages together, and the best single source."""

from __future__ import annotations

import math

import pytest

from conftest import cells_frame
from nertransfer.analysis.leave_one_out import leave_one_out


def rows(f1s: dict) -> list[dict]:
    return [{"checkpoint": "tiny", "train_language": train, "eval_language": test, "category": "overall", "f1": f1,
             "seed": seed} for (train, test, seed), f1 in f1s.items()]


def test_the_held_out_language_s_f1_is_set_beside_the_best_single_source_on_it():
    frame = cells_frame(rows({
        ("all-but-hau", "hau", 1): 20.0, ("all-but-hau", "hau", 2): 22.0, ("all-but-hau", "swa", 1): 50.0,
        ("swa", "hau", 1): 14.0, ("swa", "hau", 2): 16.0, ("yor", "hau", 1): 9.0, ("yor", "hau", 2): 9.0,
        ("hau", "hau", 1): 60.0, ("hau", "hau", 2): 60.0,  # in-language: not a source for its own language
        ("hau+swa", "hau", 1): 70.0,  # a set: not a single source
        ("all-but-swa", "swa", 1): 10.0,  # no single source evaluated on swa
    }))
    table = leave_one_out(frame, {"all-but-hau": "hau", "all-but-swa": "swa", "all-but-yor": "yor"})
    hau = table.loc[("tiny", "hau")]
    assert (hau["trained_on"], hau["f1"], hau["best_single_source"], hau["best_single_f1"]) == ("all-but-hau", 21.0, "swa", 15.0)
    assert hau["difference"] == pytest.approx(6.0)
    swa = table.loc[("tiny", "swa")]
    assert swa["best_single_source"] == "" and math.isnan(swa["difference"])
    assert len(table) == 2  # all-but-yor was not trained
