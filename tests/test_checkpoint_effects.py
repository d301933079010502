"""Checkpoint effects: F1 of one starting checkpoint minus a baseline's, matched on every other axis."""

from __future__ import annotations

import pytest

from nertransfer.checkpoint_effects import checkpoint_effect

from conftest import cells_frame


def test_a_checkpoint_effect_is_the_difference_of_means_matched_on_every_other_axis():
    rows = []
    for seed, shift in ((1, 0), (2, 10)):
        for category, f1 in (("overall", 50), ("PER", 70)):
            rows += [{"checkpoint": "adapted", "train_language": "a", "eval_language": "b", "category": category,
                      "f1": f1 + 5 + shift, "seed": seed},
                     {"checkpoint": "base", "train_language": "a", "eval_language": "b", "category": category,
                      "f1": f1 + shift, "seed": seed}]
    rows.append({"checkpoint": "adapted", "checkpoint_language": "c", "train_language": "a", "eval_language": "b",
                 "category": "overall", "f1": 0.0})  # a crossed cell: not the language's own checkpoint, left out
    table = checkpoint_effect(cells_frame(rows), "adapted", "base")
    assert list(table.index) == [("overall", "a"), ("PER", "a")]
    assert table.loc[("overall", "a"), "b"] == pytest.approx(5.0) and table.loc[("PER", "a"), "b"] == pytest.approx(5.0)
