"""Checkpoint effects: F1 of one starting checkpoint minus a baseline's, matched on every other axis."""

from __future__ import annotations

import pytest

from conftest import TYPES, cells_frame
from nertransfer.analysis.checkpoint_effects import checkpoint_effect


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


def evaluation(root, checkpoint, seed, tokens, gold, predicted, train="a", evaluation_language="b"):
    """An evaluation folder as the workflow writes it: predictions (token gold predicted) and metrics with the axes."""
    import json

    from nertransfer.data.conll import write_conll
    from nertransfer.scoring.metrics import score_all_modes

    folder = root / checkpoint / f"seed{seed}"
    write_conll(folder / "predictions.conll", tokens, gold, predicted)
    folder.joinpath("metrics.json").write_text(json.dumps({"checkpoint": checkpoint, "train_language": train, "seed": seed,
                                                           "eval_language": evaluation_language,
                                                           **score_all_modes(gold, predicted, TYPES)}))
    return folder


def test_a_difference_whose_interval_excludes_zero_is_marked_with_its_interval_beside_it(tmp_path):
    import random

    import pandas as pd

    from nertransfer.analysis.checkpoint_effects import write_checkpoint_effect
    from nertransfer.scoring.metrics import score

    rng = random.Random(0)
    gold = [[rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC"]) for _ in range(8)] for _ in range(150)]
    tokens = [[f"w{i}" for i in range(8)] for _ in gold]
    noisy = lambda share, seed: [[(random.Random(seed * 1000 + i * 10 + j).choice(["O", "B-LOC"])  # noqa: E731
                                   if random.Random(seed * 7 + i * 10 + j).random() < share else tag)
                                  for j, tag in enumerate(tags)] for i, tags in enumerate(gold)]
    folders, rows = [], []
    for seed in (1, 2):
        for checkpoint, predicted in (("adapted", gold), ("base", noisy(0.5, seed))):  # adapted is right everywhere
            folders.append(evaluation(tmp_path / "eval", checkpoint, seed, tokens, gold, predicted))
            scores = score(gold, predicted, types=["LOC", "PER"])
            for category, values in (("overall", scores), *scores["per_category"].items()):
                rows.append({"checkpoint": checkpoint, "train_language": "a", "eval_language": "b", "category": category,
                             "f1": 100 * values["f1"], "seed": seed})
    cells_frame(rows).to_csv(tmp_path / "cells.csv", index=False)
    written = write_checkpoint_effect(tmp_path / "cells.csv", "adapted", "base", tmp_path / "r", folders, ["LOC", "PER"], 200)
    from nertransfer.experiment.layout import effect_names

    assert sorted(p.name for p in written) == sorted(effect_names("adapted", "base"))
    intervals = pd.read_csv(tmp_path / "r" / "effect_adapted_vs_base_ci.csv")
    assert intervals["significant"].all() and (intervals["ci_low"] > 0).all()
    table = pd.read_csv(tmp_path / "r" / "effect_adapted_vs_base.csv", index_col=[0, 1])
    overall = intervals.set_index("category").loc["overall"]
    assert overall["difference"] == pytest.approx(table.loc[("overall", "a"), "b"], abs=1e-3)  # the table's own difference
    markdown = (tmp_path / "r" / "effect_adapted_vs_base.md").read_text()
    assert markdown.count("*") >= 3 and "paired bootstrap over test sentences (200 resamples" in markdown


def test_a_training_set_is_a_training_language_of_its_own_in_an_effect_table():
    rows = [{"checkpoint": checkpoint, "train_language": train, "eval_language": "yor", "category": "overall", "f1": f1}
            for checkpoint, train, f1 in (("e5", "hau+swa", 60.0), ("tiny", "hau+swa", 20.0),
                                          ("e5", "hau", 50.0), ("tiny", "hau", 10.0))]
    table = checkpoint_effect(cells_frame(rows), "e5", "tiny")
    assert table.loc[("overall", "hau+swa"), "yor"] == pytest.approx(40.0)
    assert table.loc[("overall", "hau"), "yor"] == pytest.approx(40.0)
