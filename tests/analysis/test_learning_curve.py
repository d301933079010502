"""Learning curves: in-language test F1 against the number of training sentences."""

from __future__ import annotations

import pandas as pd
import pytest
from test_grid_search import cell_files

from conftest import TYPES
from nertransfer.analysis.tables import write_tables
from nertransfer.experiment import layout


def test_a_learning_curve_orders_sizes_by_training_sentences(tmp_path):
    files = [cell_files(tmp_path, "default", size, seed, 0.5, f1, sentences)
             for size, f1, sentences in (("full", 0.8, 400), ("100", 0.4, 100), ("0.5", 0.6, 200)) for seed in (1, 2)]
    runs, metrics = zip(*files, strict=True)
    written = write_tables(metrics, tmp_path / "results", TYPES, runs)
    assert sorted(p.name for p in written) == sorted(layout.zero_shot_names(TYPES) + layout.learning_curve_names())
    curve = pd.read_csv(tmp_path / "results" / "learning_curve.csv")
    assert curve["train_sentences"].tolist() == [100, 200, 400] and curve["f1_mean"].tolist() == pytest.approx([40, 60, 80])
