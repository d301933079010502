"""Tables: mean and standard deviation over seeds, overall and per category, in three formats."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from conftest import TYPES
from nertransfer.analysis.tables import write_tables
from nertransfer.experiment import layout


def metrics_file(tmp_path, checkpoint, train, seed, evaluation, f1, per=None):
    per = per or {t: f1 for t in TYPES}

    def scores(f):
        return {"precision": f, "recall": f, "f1": f, "support": 10, "predicted": 10, "correct": int(10 * f)}

    data = {"checkpoint": checkpoint, "train_language": train, "seed": seed, "eval_language": evaluation,
            **scores(f1), "per_category": {t: scores(v) for t, v in per.items()}}
    path = tmp_path / "in" / f"{checkpoint}-{train}-{seed}-{evaluation}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def results(tmp_path):
    files = []
    for seed, shift in ((1, 0.0), (2, 0.1)):
        for train in ("hau", "swa"):
            for evaluation in ("hau", "swa"):
                f1 = (0.8 if train == evaluation else 0.3) + shift
                files.append(metrics_file(tmp_path, "tiny", train, seed, evaluation, f1,
                                          {"DATE": 0.5, "LOC": f1, "ORG": 0.1 * seed, "PER": 0.9}))
    written = write_tables(files, tmp_path / "results", TYPES)
    return tmp_path / "results", written


def test_writes_exactly_the_files_the_workflow_declares(results):
    folder, written = results
    assert sorted(p.name for p in written) == sorted(layout.zero_shot_names(TYPES))
    assert all(p.stat().st_size > 0 for p in written)
    assert not list(folder.glob(".*partial*"))


def test_zero_shot_table_is_mean_f1_x100_over_seeds(results):
    folder, _ = results
    table = pd.read_csv(folder / "zero_shot.csv", index_col=[0, 1])
    assert list(table.columns) == ["hau", "swa"]
    assert table.loc[("tiny", "hau"), "hau"] == pytest.approx(85.0)
    assert table.loc[("tiny", "hau"), "swa"] == pytest.approx(35.0)
    std = pd.read_csv(folder / "zero_shot_std.csv", index_col=[0, 1])
    assert std.loc[("tiny", "swa"), "hau"] == pytest.approx(math.sqrt(2 * 5.0**2), abs=1e-4)  # sample std of 30 and 40


def test_per_category_tables(results):
    folder, _ = results
    org = pd.read_csv(folder / "zero_shot_ORG.csv", index_col=[0, 1])
    assert org.loc[("tiny", "hau"), "swa"] == pytest.approx(15.0)
    assert pd.read_csv(folder / "zero_shot_PER_std.csv", index_col=[0, 1]).to_numpy().max() == pytest.approx(0.0)


def test_in_language_table_reports_precision_recall_f1_mean_and_std(results):
    folder, _ = results
    table = pd.read_csv(folder / "in_language.csv", index_col=[0, 1])
    assert table.loc[("tiny", "swa"), "f1_mean"] == pytest.approx(85.0)
    assert table.loc[("tiny", "swa"), "precision_std"] == pytest.approx(math.sqrt(50), abs=1e-4)
    assert table.loc[("tiny", "swa"), "DATE_f1_mean"] == pytest.approx(50.0)
    markdown = (folder / "in_language.md").read_text()
    assert "85.00 ± 7.07" in markdown
    assert r"85.00 $\pm$ 7.07" in (folder / "in_language.tex").read_text()


def test_heatmaps_are_png_images(results):
    folder, _ = results
    assert (folder / "zero_shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_single_seed_leaves_the_standard_deviation_empty(tmp_path):
    files = [metrics_file(tmp_path, "tiny", "hau", 1, "hau", 0.5)]
    write_tables(files, tmp_path / "r", TYPES)
    assert pd.read_csv(tmp_path / "r" / "zero_shot_std.csv", index_col=[0, 1]).isna().all().all()
    assert "50.00 |" in (tmp_path / "r" / "in_language.md").read_text()


def test_every_cell_knows_its_seeds_and_one_with_fewer_than_configured_is_marked(tmp_path):
    from nertransfer.analysis.tables import Seeds

    files = [metrics_file(tmp_path, "tiny", train, seed, evaluation, 0.5 + 0.1 * seed)
             for train in ("hau", "swa") for evaluation in ("hau", "swa") for seed in (1, 2, 3)
             if not (train == "swa" and evaluation == "hau" and seed == 3)]  # one evaluation missing
    expected = {"tiny/hau//all/full/default": 3, "tiny/swa//all/full/default": 3}
    write_tables(files, tmp_path / "r", TYPES, seeds=Seeds(expected))
    cells = pd.read_csv(tmp_path / "r" / "cells.csv", keep_default_na=False)
    row = cells[(cells["train_language"] == "swa") & (cells["eval_language"] == "hau") & (cells["category"] == "overall")]
    assert set(row["seeds"]) == {2} and set(row["seeds_configured"]) == {3}
    assert set(cells[cells["train_language"] == "hau"]["seeds"]) == {3}
    markdown = (tmp_path / "r" / "zero_shot.md").read_text()
    assert "65.00†" in markdown and "†: over fewer seeds than the configuration asks for" in markdown.split("|")[-1]
    assert markdown.count("†") == 2  # the one short cell and the note
    assert r"65.00$^\dagger$" in (tmp_path / "r" / "zero_shot.tex").read_text()
    in_language = pd.read_csv(tmp_path / "r" / "in_language.csv", index_col=[0, 1])
    assert in_language["seeds"].tolist() == [3, 3] and "†" not in (tmp_path / "r" / "in_language.md").read_text()


def test_a_complete_table_has_no_mark(results):
    folder, _ = results
    assert "†" not in (folder / "zero_shot.md").read_text() and "†" not in (folder / "in_language.md").read_text()


def test_the_population_standard_deviation_is_a_setting(tmp_path):
    from nertransfer.analysis.tables import Seeds

    files = [metrics_file(tmp_path, "tiny", "hau", seed, "hau", f1) for seed, f1 in ((1, 0.3), (2, 0.4))]
    write_tables(files, tmp_path / "r", TYPES, seeds=Seeds(std="population"))
    std = pd.read_csv(tmp_path / "r" / "zero_shot_std.csv", index_col=[0, 1])
    assert std.loc[("tiny", "hau"), "hau"] == pytest.approx(5.0)  # numpy's std of 30 and 40; the sample one is 7.07
    assert "population standard deviation, ddof=0" in (tmp_path / "r" / "zero_shot_std.md").read_text()


@pytest.mark.parametrize("damage, message", [("{", "not valid JSON (line 1, column 2"), ("{}", "lacks 'checkpoint'"),
                                             ('{"f1": "high"}', "lacks")])
def test_a_damaged_record_is_one_line_naming_it_and_no_table_is_written(tmp_path, damage, message):
    from nertransfer.analysis.records import RecordError

    good = metrics_file(tmp_path, "tiny", "hau", 1, "hau", 0.5)
    bad = tmp_path / "bad.json"
    bad.write_text(damage)
    with pytest.raises(RecordError, match="^" + re.escape(f"{bad}: {message}")):
        write_tables([good, bad], tmp_path / "r", TYPES)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_config.json").write_text('{"checkpoint": "tiny"')
    with pytest.raises(RecordError, match="^" + re.escape(f"{run / 'train_config.json'}: not valid JSON")):
        write_tables([good], tmp_path / "r", TYPES, [run])
    assert not (tmp_path / "r").exists()


def test_a_madx_evaluation_over_another_language_s_adapter_is_marked_and_said(tmp_path):
    files = []
    for evaluation, adapter in (("hau", "hau"), ("swa", "swa"), ("amh", "hau")):  # amh has no adapter: hau's stood in
        path = metrics_file(tmp_path, "tiny", "hau", 1, evaluation, 0.5)
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "method": "madx-lang", "language_adapter": adapter}))
        files.append(path)
    files.append(metrics_file(tmp_path, "tiny", "swa", 1, "amh", 0.4))  # a full fine-tune: no adapter at all
    write_tables(files, tmp_path / "results", TYPES)
    markdown = (tmp_path / "results" / "zero_shot.md").read_text()
    assert markdown.count("‡") == 2 and "50.00‡" in markdown and "40.00‡" not in markdown
    assert "no language adapter for this language" in markdown
    cells = pd.read_csv(tmp_path / "results" / "cells.csv", keep_default_na=False)
    assert set(cells.loc[cells["eval_language"] == "amh", "language_adapter"]) == {"hau", ""}


def test_without_madx_cells_csv_has_no_language_adapter_column(results):
    folder, _ = results
    assert "language_adapter" not in pd.read_csv(folder / "cells.csv").columns
