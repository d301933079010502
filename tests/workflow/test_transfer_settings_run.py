"""Transfer settings through the workflow: training sets (a pair of languages and a leave-one-out set) and a LoRA cell.

The set's cell trains on the union of its languages' files (its records name each file and its content), is
evaluated on every language, and appears in the tables as a row named by the set; the overlap analysis takes
its union and leaves out the pairs on its own languages. Adding a set plans only its jobs. A LoRA cell saves a
peft adapter, evaluated on the start it was trained from.
"""

from __future__ import annotations

import copy
import json
import shutil

import pandas as pd
import pytest

from conftest import TRANSFER_CONFIG, counts, plan, set_config

pytestmark = pytest.mark.slow


def test_a_set_is_trained_on_its_languages_and_is_a_row_of_the_tables(transfer_run):
    runs = transfer_run / "work" / "runs" / "mini"
    config = json.loads((runs / "hau+luo" / "base" / "seed1" / "train" / "train_config.json").read_text())
    assert config["languages"] == ["hau", "luo"] and config["train_sentences"] == 120
    assert [path.split("/")[-2] for path in config["train_file"]] == ["hau", "luo"]
    dev = json.loads((runs / "hau+luo" / "base" / "seed1" / "train" / "dev_metrics.json").read_text())
    assert set(dev["languages"]) == {"hau", "luo"}
    loo = json.loads((runs / "all-but-swa" / "base" / "seed1" / "train" / "train_config.json").read_text())
    assert loo["languages"] == ["hau", "luo"]
    sampled = json.loads((runs / "hau+luo" / "alpha0.5" / "seed1" / "train" / "train_config.json").read_text())
    assert sampled["hyperparameters"]["sampling_alpha"] == 0.5
    assert not (runs / "hau" / "alpha0.5").exists()  # a single language ignores the sampling axis
    table = pd.read_csv(transfer_run / "results" / "zero_shot.csv")
    rows = {tuple(row) for row in table[["train_language", "sampling_alpha", "method"]].astype(str).to_numpy()}
    assert rows == {("hau", "default", "full"), ("hau+luo", "default", "full"), ("hau+luo", "0.5", "full"),
                    ("all-but-swa", "default", "full"), ("hau", "default", "lora-r4-a32"),
                    ("hau", "default", "madx-mini-lang")}
    assert table.set_index(["train_language", "sampling_alpha"]).loc[("all-but-swa", "default"), "swa"] >= 0  # held out
    overlap = pd.read_csv(transfer_run / "results" / "overlap.csv")
    assert sorted(overlap.loc[overlap["train_language"] == "hau+luo", "eval_language"]) == ["swa"]
    assert sorted(overlap.loc[overlap["train_language"] == "all-but-swa", "eval_language"]) == ["swa"]
    loo = pd.read_csv(transfer_run / "results" / "leave_one_out.csv")
    assert list(loo["held_out"]) == ["swa"] and loo["best_single_source"].iloc[0] in {"hau", "luo"}
    card = (runs / "hau+luo" / "base" / "seed1" / "README.md").read_text()
    assert "### Test set: hau" in card and "### Test set: luo" in card


def test_adding_a_set_plans_only_its_cells(transfer_run, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(transfer_run, workdir, symlinks=True)
    config = copy.deepcopy(TRANSFER_CONFIG)
    config["train_sets"]["luo+swa"] = ["luo", "swa"]
    config["experiment"]["train_languages"].append("luo+swa")
    set_config(workdir, config)
    jobs = plan(workdir)
    trained = [wildcards for rule, wildcards in jobs if rule == "train"]
    assert trained == ["row=mini/luo+swa/base, seed=1"]  # nothing else: the LoRA and sampled cells are as they were
    assert counts(jobs)["evaluate"] == 3 and counts(jobs)["card"] == 1


def test_a_lora_cell_saves_a_peft_adapter_on_its_start_and_is_tabled_as_its_method(transfer_run):
    folder = transfer_run / "work" / "runs" / "mini" / "hau" / "lora-r4-a32" / "seed1" / "model"
    assert (folder / "adapter_config.json").exists() and not (folder / "model.safetensors").exists()
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["base_model_name_or_path"]) == (4, 32, "work/checkpoints/mini")
    table = pd.read_csv(transfer_run / "results" / "in_language.csv")
    assert set(table["method"]) == {"full", "lora-r4-a32", "madx-mini-lang"}


def test_a_madx_cell_swaps_in_each_language_s_adapter_and_the_tables_mark_a_fallback(transfer_run):
    adapters = transfer_run / "work" / "checkpoints" / "mini-lang"
    assert sorted(p.name for p in adapters.iterdir()) == ["hau", "luo"]  # made once each, for the languages asked
    assert (adapters / "hau" / "adapter_config.json").exists()
    evaluations = transfer_run / "work" / "runs" / "mini" / "hau" / "madx-mini-lang" / "seed1" / "eval"
    used = {language: json.loads((evaluations / language / "metrics.json").read_text())["language_adapter"]
            for language in ("hau", "luo", "swa")}
    assert used == {"hau": "hau", "luo": "luo", "swa": "hau"}  # swa has none: the training language's
    cells = pd.read_csv(transfer_run / "results" / "cells.csv", keep_default_na=False)
    assert set(cells.loc[cells["method"] == "full", "language_adapter"]) == {""}
    markdown = (transfer_run / "results" / "zero_shot.md").read_text()
    assert "‡" in markdown and "no language adapter for this language" in markdown
    assert markdown.count("‡") == 2  # the one fallback cell, and the note
