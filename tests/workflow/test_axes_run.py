"""The experiment axes beyond checkpoint x language x seed, in one real workflow run on a reduced matrix.

Label sets, training sizes, a hyperparameter grid, sequential transfer, language-adaptive
pretraining with the checkpoint's language crossed with the training language, and the study's
analyses: each expands into cells like the others, shows up in the tables as a column, and
adding a value to an axis adds only the new cells.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import CONFIG, counts, make_mini_corpus, plan, set_config, snakemake

pytestmark = pytest.mark.slow

AXES_CONFIG = {
    **copy.deepcopy(CONFIG),
    "label_sets": {"no-date": ["LOC", "ORG", "PER"]},
    "analyses": {"overlap": True, "checkpoint_effects": [{"checkpoint": "mini-adapted", "baseline": "mini"}]},
}
AXES_CONFIG["checkpoints"].update({
    "mini-after-hau": {"finetuned": {"checkpoint": "mini", "language": "hau"}, "training": {"epochs": 1, "learning_rate": 0.005}},
    "mini-adapted": {"adapt": {"checkpoint": "mini", "epochs": 1, "learning_rate": 0.001},
                     "training": {"epochs": 1, "learning_rate": 0.005}},
})
AXES_CONFIG["experiment"] = {
    "dataset": "mini", "checkpoints": ["mini"], "seeds": [1],
    "extra": [
        {"label_sets": ["no-date"]},
        {"train_languages": ["luo"], "train_sizes": [20, 0.5], "seeds": [1, 2]},
        {"train_languages": ["hau"], "grid": {"learning_rate": [0.005, 0.02]}, "seeds": [1, 2]},
        {"checkpoints": ["mini-after-hau"], "train_languages": ["luo"]},
        {"checkpoints": ["mini-adapted"], "checkpoint_languages": "all"},
    ],
}


@pytest.fixture(scope="module")
def axes_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("axes") / "done"
    make_mini_corpus(workdir / "data", ("hau", "luo"), {"train": 60, "dev": 20, "test": 20})
    set_config(workdir, AXES_CONFIG)
    snakemake(workdir, "-j2")
    return workdir


@pytest.fixture
def axes_copy(axes_run, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(axes_run, target, symlinks=True)
    return target


def cells(workdir: Path):
    import pandas as pd

    return pd.read_csv(workdir / "results" / "cells.csv", keep_default_na=False)


def test_every_axis_is_a_column_of_the_tables(axes_run):
    import pandas as pd

    table = pd.read_csv(axes_run / "results" / "zero_shot.csv")
    for axis in ("checkpoint", "checkpoint_language", "train_language", "label_set", "train_size", "grid_point"):
        assert axis in table.columns
    assert set(table["label_set"]) == {"all", "no-date"}
    assert set(table["train_size"].astype(str)) == {"full", "20", "0.5"}
    assert set(table["grid_point"]) == {"default", "lr0.005", "lr0.02"}
    # 2 base + 2 label set + 2 sizes + 2 grid points + 1 sequential + 4 adapted (2 checkpoint x 2 training languages)
    assert len(table) == 13 and list(table.columns[-2:]) == ["hau", "luo"]


def test_a_label_set_maps_other_types_to_o_in_training_and_evaluation(axes_run):
    run = axes_run / "work" / "runs" / "mini" / "hau" / "labels-no-date" / "seed1"
    metrics = json.loads((run / "eval" / "luo" / "metrics.json").read_text())
    assert set(metrics["per_category"]) <= {"LOC", "ORG", "PER"}
    predictions = (run / "eval" / "luo" / "predictions.conll").read_text()
    assert "DATE" not in predictions  # neither gold (mapped to O) nor predicted (not a label)
    labels = json.loads((run / "model" / "config.json").read_text())["id2label"].values()
    assert sorted(labels) == ["B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]
    frame = cells(axes_run)
    assert not ((frame["label_set"] == "no-date") & (frame["category"] == "DATE")).any()


def test_a_training_size_is_a_seed_dependent_subset_and_gives_a_learning_curve(axes_run):
    sizes = {}
    for folder in (axes_run / "work" / "runs" / "mini" / "luo").glob("size-*/seed*/train"):
        summary = json.loads((folder / "train_config.json").read_text())
        sizes[(summary["train_size"], summary["seed"])] = summary["train_sentences"]
    assert sizes == {("20", 1): 20, ("20", 2): 20, ("0.5", 1): 30, ("0.5", 2): 30}
    curve = (axes_run / "results" / "learning_curve.csv").read_text()
    assert "train_sentences" in curve and (axes_run / "results" / "learning_curve.png").stat().st_size > 0


def test_the_grid_is_judged_on_dev_and_test_results_are_reported_for_the_choice(axes_run):
    import pandas as pd

    dev = pd.read_csv(axes_run / "results" / "grid_dev.csv")
    hau = dev[dev["train_language"] == "hau"]
    assert set(hau["grid_point"]) == {"lr0.005", "lr0.02"} and set(hau["seeds"]) == {2}
    chosen = hau.loc[hau["mean"].idxmax(), "grid_point"]
    assert hau[hau["chosen"]]["grid_point"].tolist() == [chosen]
    best = pd.read_csv(axes_run / "results" / "grid_best.csv")
    assert best["grid_point"].tolist() == [chosen]


def test_sequential_transfer_starts_from_the_other_cells_model(axes_run):
    summary = json.loads((axes_run / "work" / "runs" / "mini-after-hau" / "luo" / "base" / "seed1" / "train" /
                          "train_config.json").read_text())
    assert summary["checkpoint_path"] == "work/runs/mini/hau/base/seed1/model"


def test_adaptation_makes_a_checkpoint_per_language_and_its_language_is_an_axis(axes_run):
    for language in ("hau", "luo"):
        adaptation = json.loads((axes_run / "work" / "checkpoints" / "mini-adapted" / language / "adaptation.json").read_text())
        assert adaptation["text_files"] == [f"data/{language}/train.txt"] and adaptation["epochs"][0]["mlm_loss"] > 0
    crossed = axes_run / "work" / "runs" / "mini-adapted@hau" / "luo" / "base" / "seed1" / "train" / "train_config.json"
    assert json.loads(crossed.read_text())["checkpoint_path"] == "work/checkpoints/mini-adapted/hau"


def test_the_analyses_write_correlations_scatter_and_difference_tables(axes_run):
    import pandas as pd

    correlation = pd.read_csv(axes_run / "results" / "overlap_correlation.csv")
    assert {"pearson_r", "pearson_p", "spearman_rho", "spearman_p"} <= set(correlation.columns)
    assert (axes_run / "results" / "overlap_scatter.png").stat().st_size > 0
    effect = pd.read_csv(axes_run / "results" / "effect_mini-adapted_vs_mini.csv")
    frame = cells(axes_run)
    overall = frame[(frame["category"] == "overall") & (frame["label_set"] == "all") & (frame["train_size"] == "full")
                    & (frame["grid_point"] == "default") & (frame["checkpoint_language"] == "")]
    f1 = overall.groupby(["checkpoint", "train_language", "eval_language"])["f1"].mean()
    row = effect[(effect["category"] == "overall") & (effect["train_language"] == "hau")].iloc[0]
    assert row["luo"] == pytest.approx(f1[("mini-adapted", "hau", "luo")] - f1[("mini", "hau", "luo")], abs=1e-3)


@pytest.mark.parametrize("axis, change, new_cells", [
    ("label set", lambda e: e["extra"][0].update(label_sets=["no-date", "per-only"]), 2),
    ("training size", lambda e: e["extra"][1].update(train_sizes=[20, 0.5, 40]), 2),
    ("grid value", lambda e: e["extra"][2]["grid"].update(learning_rate=[0.005, 0.02, 0.01]), 2),
    ("checkpoint language", lambda e: e["extra"][4].update(checkpoint_languages=["hau", "luo"],
                                                           train_languages=["hau", "luo"]), 0),
])
def test_adding_a_value_to_an_axis_adds_only_its_cells(axes_copy, axis, change, new_cells):
    config = yaml.safe_load(yaml.safe_dump(AXES_CONFIG))
    config["label_sets"]["per-only"] = ["PER"]
    change(config["experiment"])
    set_config(axes_copy, config)
    jobs = counts(plan(axes_copy))
    analyses = {"tables": 1, "overlap": 1, "checkpoint_effect": 1}
    expected = Counter({"train": new_cells, "evaluate": 2 * new_cells, "card": new_cells, **analyses}) if new_cells else Counter()
    assert jobs == expected, axis
