"""The hyperparameter search: judged on dev F1 alone, with the test F1 of the choice reported."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import TYPES
from nertransfer.analysis.tables import write_tables
from nertransfer.experiment import layout


def cell_files(tmp_path, point, size, seed, dev_f1, test_f1, sentences=100):
    """A fine-tune's records folder and one metrics file, as the workflow writes them."""
    axes = {"checkpoint": "tiny", "checkpoint_language": "", "train_language": "hau", "label_set": "all",
            "train_size": size, "grid_point": point, "seed": seed}
    run = tmp_path / "runs" / f"{point}-{size}-{seed}"
    run.mkdir(parents=True)
    (run / "train_config.json").write_text(json.dumps({**axes, "train_sentences": sentences}))
    (run / "dev_metrics.json").write_text(json.dumps({"f1": dev_f1}))
    scores = {"precision": test_f1, "recall": test_f1, "f1": test_f1, "support": 10}
    metrics = tmp_path / "metrics" / f"{point}-{size}-{seed}.json"
    metrics.parent.mkdir(exist_ok=True)
    metrics.write_text(json.dumps({**axes, "eval_language": "hau", **scores, "per_category": {}}))
    return run, metrics


def test_the_grid_choice_uses_dev_f1_only_and_reports_test_f1_of_that_choice(tmp_path):
    # lr1 is better on dev, lr2 better on test: the choice must be lr1
    files = [cell_files(tmp_path, "lr1", "full", seed, 0.6 + 0.01 * seed, 0.3) for seed in (1, 2)]
    files += [cell_files(tmp_path, "lr2", "full", seed, 0.5, 0.9) for seed in (1, 2)]
    runs, metrics = zip(*files, strict=True)
    written = write_tables(metrics, tmp_path / "results", TYPES, runs)
    assert sorted(p.name for p in written) == sorted(layout.zero_shot_names(TYPES) + layout.grid_names())
    dev = pd.read_csv(tmp_path / "results" / "grid_dev.csv").set_index("grid_point")
    assert dev.loc["lr1", "mean"] == pytest.approx(61.5) and bool(dev.loc["lr1", "chosen"]) and not bool(dev.loc["lr2", "chosen"])
    best = pd.read_csv(tmp_path / "results" / "grid_best.csv")
    assert best["grid_point"].tolist() == ["lr1"] and best["hau"].tolist() == [pytest.approx(30.0)]
