"""Records: what the runs wrote, read back checked (one line naming a damaged file), into frames, shared, set aside."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from conftest import TYPES, cells_frame, write
from nertransfer.analysis.records import (
    DAMAGED,
    EXTRA_AXES,
    RecordError,
    damage,
    load_metrics,
    load_runs,
    mean_f1,
    read_record,
    row_axes,
    run_records,
    set_aside_damaged,
    share_evaluation,
    share_fine_tune,
    with_every_axis,
    without_unused_axes,
)
from nertransfer.experiment.axes import ALWAYS_RECORDED
from nertransfer.experiment.layout import DEV_METRICS, EPOCHS, METRICS, PREDICTIONS, TRAIN_CONFIG


def scores(f1: float, support: int = 10) -> dict:
    return {"precision": f1, "recall": f1, "f1": f1, "support": support}


def metrics_record(folder, checkpoint="tiny", train="hau", seed=1, evaluation="hau", f1=0.5, name=METRICS, **axes):
    """A metrics.json as evaluate writes it: the cell's axes, the scores, and the scores per category."""
    data = {"checkpoint": checkpoint, "train_language": train, "seed": seed, "eval_language": evaluation, **axes,
            **scores(f1), "per_category": {t: scores(f1) for t in TYPES}}
    return write(folder / name, json.dumps(data))


def fine_tune_records(folder, checkpoint="tiny", train="hau", seed=1, dev_f1=0.4, **summary):
    """A fine-tune's records folder as train writes it: epochs, dev metrics, settings with the cell's axes."""
    write(folder / EPOCHS, '{"epoch": 1, "loss": 2.0}\n')
    write(folder / DEV_METRICS, json.dumps(scores(dev_f1)))
    write(folder / TRAIN_CONFIG, json.dumps({"checkpoint": checkpoint, "train_language": train, "seed": seed,
                                             "hyperparameters": {"epochs": 1}, **summary}))
    return folder


# -- read_record: every reader's way in ------------------------------------------------------------

def test_a_whole_record_is_read_as_it_was_written(tmp_path):
    path = metrics_record(tmp_path, f1=0.75)
    assert read_record(path)["f1"] == 0.75 and read_record(path)["per_category"]["PER"]["support"] == 10


@pytest.mark.parametrize("text, problem", [
    (None, "missing"),
    ("{", "not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"checkpoint": "tiny"}', "lacks 'train_language', 'seed', 'eval_language', 'precision', 'recall', 'f1', "
                               "'support', 'per_category' (a metrics.json written by nertransfer has them)"),
])
def test_a_damaged_or_missing_record_is_refused_in_one_line_that_names_the_file(tmp_path, text, problem):
    path = tmp_path / METRICS
    if text is not None:
        path.write_text(text)
    with pytest.raises(RecordError) as refused:
        read_record(path)
    assert str(refused.value) == f"{path}: {problem}"


def test_a_score_that_is_not_a_number_is_refused(tmp_path):
    path = metrics_record(tmp_path)
    for value in ("high", True, None):
        path.write_text(json.dumps({**json.loads(path.read_text()), "f1": value}))
        with pytest.raises(RecordError, match="^" + re.escape(f"{path}: 'f1' is {value!r}, expected a number") + "$"):
            read_record(path)


def test_a_record_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    path = tmp_path / DEV_METRICS
    path.write_bytes(b'{"f1": 0.5, "x": "\xff"}')
    with pytest.raises(RecordError, match="^" + re.escape(f"{path}: cannot be read")):
        read_record(path)


def test_what_a_record_must_hold_follows_its_kind_its_file_name_by_default(tmp_path):
    copy = write(tmp_path / "copy.json", json.dumps({"f1": 0.5}))
    assert read_record(copy) == {"f1": 0.5}  # an unknown name: any JSON object
    with pytest.raises(RecordError, match="lacks 'checkpoint'"):
        read_record(copy, METRICS)
    assert read_record(write(tmp_path / DEV_METRICS, '{"f1": 0.5}')) == {"f1": 0.5}
    with pytest.raises(RecordError, match=re.escape(f"{tmp_path / TRAIN_CONFIG}: lacks 'checkpoint', 'train_language', 'seed'")):
        read_record(write(tmp_path / TRAIN_CONFIG, '{"f1": 0.5}'))


def test_damage_is_why_the_first_unusable_record_is_unusable_and_empty_when_all_are_whole(tmp_path):
    records = fine_tune_records(tmp_path / "train")
    assert run_records(records) == [records / TRAIN_CONFIG, records / DEV_METRICS]
    assert damage(run_records(records)) == ""
    (records / DEV_METRICS).write_text("{")
    assert damage(run_records(records)).startswith(f"{records / DEV_METRICS}: not valid JSON")
    (records / TRAIN_CONFIG).unlink()
    assert damage(run_records(records)) == f"{records / TRAIN_CONFIG}: missing"


# -- into frames --------------------------------------------------------------------------------------

def test_load_metrics_gives_a_row_per_cell_and_category_overall_first_scores_x100(tmp_path):
    files = [metrics_record(tmp_path / str(seed), seed=seed, f1=f1) for seed, f1 in ((1, 0.5), (2, 0.25))]
    frame = load_metrics(files, ["PER", "LOC"])
    assert list(frame["category"]) == ["overall", "PER", "LOC"] * 2
    assert list(frame["f1"]) == [50.0] * 3 + [25.0] * 3 and set(frame["support"]) == {10}
    assert {"checkpoint", "train_language", "seed", "eval_language", *EXTRA_AXES} <= set(frame.columns)


def test_load_metrics_leaves_out_a_category_outside_the_cell_s_label_set(tmp_path):
    path = metrics_record(tmp_path, label_set="no-date")
    record = json.loads(path.read_text())
    del record["per_category"]["DATE"]
    path.write_text(json.dumps(record))
    assert list(load_metrics([path], TYPES)["category"]) == ["overall", "LOC", "ORG", "PER"]


def test_two_records_of_one_seed_are_an_error_naming_both(tmp_path):
    first = metrics_record(tmp_path / "a", seed=1)
    second = metrics_record(tmp_path / "b", seed=1, name="copy.json")
    with pytest.raises(RecordError, match=re.escape(f"{second} and {first} are both seed 1 of tiny/hau//all/full/default "
                                                    "on hau: one record per seed and evaluation language")):
        load_metrics([first, second], TYPES)
    other_language = metrics_record(tmp_path / "c", seed=1, evaluation="luo")
    assert len(load_metrics([first, other_language], [])) == 2  # the same seed on another test set is another cell


def test_load_runs_gives_a_row_per_fine_tune_with_dev_f1_x100(tmp_path):
    runs = [fine_tune_records(tmp_path / "a", seed=1, dev_f1=0.4, train_sentences=80),
            fine_tune_records(tmp_path / "b", seed=2, dev_f1=0.5)]
    frame = load_runs(runs)
    assert list(frame["seed"]) == [1, 2] and list(frame["dev_f1"]) == [40.0, 50.0]
    assert frame["train_sentences"].tolist()[0] == 80 and pd.isna(frame["train_sentences"].tolist()[1])
    (runs[1] / TRAIN_CONFIG).unlink()
    with pytest.raises(RecordError, match=re.escape(f"{runs[1] / TRAIN_CONFIG}: missing")):
        load_runs(runs)


def test_an_axis_not_always_recorded_is_a_column_only_where_some_cell_leaves_its_default(tmp_path):
    optional = [axis for axis in EXTRA_AXES if axis not in ALWAYS_RECORDED]
    if not optional:
        pytest.skip("every axis is always recorded")
    at_default = load_metrics([metrics_record(tmp_path)], [])
    assert set(optional) <= set(at_default.columns) and not set(optional) & set(without_unused_axes(at_default).columns)
    assert set(ALWAYS_RECORDED) <= set(without_unused_axes(at_default).columns)
    varied = pd.concat([at_default, at_default.assign(**{optional[0]: "0.3"})])
    assert optional[0] in without_unused_axes(varied)


def test_cells_read_back_have_every_axis_as_text_an_absent_one_at_its_default(tmp_path):
    """As the analyses read cells.csv (keep_default_na=False): one written before an axis existed lacks its column."""
    written = write(tmp_path / "cells.csv", "checkpoint,checkpoint_language,train_language,label_set,seed,f1\n"
                                            "tiny,,hau,all,1,50.0\n")
    back = with_every_axis(pd.read_csv(written, keep_default_na=False))
    assert back.loc[0, list(EXTRA_AXES)].to_dict() == {**EXTRA_AXES, "checkpoint_language": "", "label_set": "all"}
    assert all(isinstance(back.loc[0, axis], str) for axis in EXTRA_AXES)


def test_row_axes_are_checkpoint_its_language_training_language_then_the_axes_some_cell_varies():
    frame = cells_frame([{"checkpoint": "tiny", "train_language": "hau"}])
    assert row_axes(frame) == ["checkpoint", "train_language"]
    varied = cells_frame([{"checkpoint": "tiny", "train_language": "hau", "checkpoint_language": "swa", "label_set": "no-date"}])
    assert row_axes(varied) == ["checkpoint", "checkpoint_language", "train_language", "label_set"]


def test_mean_f1_is_over_seeds_per_cell_language_and_category():
    cells = cells_frame([{"checkpoint": "tiny", "train_language": "hau", "eval_language": "luo", "category": "overall",
                          "seed": seed, "f1": f1} for seed, f1 in ((1, 30.0), (2, 40.0))])
    means = mean_f1(cells)
    assert len(means) == 1 and means.iloc[0] == pytest.approx(35.0)
    assert means.index.names == ["checkpoint", *EXTRA_AXES, "train_language", "eval_language", "category"]


# -- a cell that shares another cell's fine-tune -----------------------------------------------------

def test_a_shared_fine_tune_has_the_other_s_epochs_and_dev_metrics_and_its_own_axes(tmp_path):
    source = fine_tune_records(tmp_path / "owner", checkpoint="tiny", seed=1)
    cell = {"checkpoint": "tiny-copy", "train_language": "hau", "seed": 1}
    share_fine_tune(source, tmp_path / "shared", cell, "tiny/hau/base/seed1")
    shared = tmp_path / "shared"
    assert sorted(p.name for p in shared.iterdir()) == sorted([EPOCHS, DEV_METRICS, TRAIN_CONFIG])
    assert (shared / EPOCHS).read_bytes() == (source / EPOCHS).read_bytes()
    assert read_record(shared / DEV_METRICS) == read_record(source / DEV_METRICS)
    summary = read_record(shared / TRAIN_CONFIG)
    assert summary == {**read_record(source / TRAIN_CONFIG), **cell, "fine_tune_of": "tiny/hau/base/seed1"}


def test_a_fine_tune_with_a_damaged_record_is_not_shared(tmp_path):
    source = fine_tune_records(tmp_path / "owner")
    (source / DEV_METRICS).write_text("{")
    with pytest.raises(RecordError, match=re.escape(f"{source / DEV_METRICS}: not valid JSON")):
        share_fine_tune(source, tmp_path / "shared", {"checkpoint": "tiny-copy"}, "tiny/hau/base/seed1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["owner"]  # nothing half made


def test_a_shared_evaluation_has_the_same_predictions_and_the_metrics_with_its_own_axes(tmp_path):
    evaluation = tmp_path / "owner" / "eval" / "luo"
    metrics_record(evaluation, evaluation="luo", f1=0.6)
    write(evaluation / PREDICTIONS, "Ɔkɔ O O\nKampala B-LOC B-LOC\n")
    cell = {"checkpoint": "tiny-copy", "train_language": "hau", "seed": 1}
    share_evaluation(evaluation, tmp_path / "shared", cell)
    assert (tmp_path / "shared" / PREDICTIONS).read_bytes() == (evaluation / PREDICTIONS).read_bytes()
    assert read_record(tmp_path / "shared" / METRICS) == {**read_record(evaluation / METRICS), **cell}


# -- set_aside_damaged: what the workflow does before it plans ----------------------------------------

def test_a_damaged_record_is_moved_aside_so_that_its_job_runs_again_and_whole_ones_stay(tmp_path):
    whole_run, damaged_run = fine_tune_records(tmp_path / "a" / "train"), fine_tune_records(tmp_path / "b" / "train")
    (damaged_run / DEV_METRICS).write_text('{"f1": ')
    whole_metrics = metrics_record(tmp_path / "a" / "eval" / "hau")
    damaged_metrics = write(tmp_path / "b" / "eval" / "hau" / METRICS, '{"checkpoint": "tiny"}')
    missing = tmp_path / "c" / "train"  # not made yet: nothing to set aside
    moved = set_aside_damaged([whole_run, damaged_run, missing], [whole_metrics, damaged_metrics])
    assert moved == [
        f"{damaged_run / DEV_METRICS}: not valid JSON (line 1, column 8: Expecting value): set aside as "
        f"{damaged_run}{DAMAGED}; the job that writes it runs again",
        f"{damaged_metrics}: lacks 'train_language', 'seed', 'eval_language', 'precision', 'recall', 'f1', 'support', "
        f"'per_category' (a metrics.json written by nertransfer has them): set aside as {damaged_metrics}{DAMAGED}; "
        "the job that writes it runs again"]
    assert not damaged_run.exists() and (tmp_path / "b" / f"train{DAMAGED}" / DEV_METRICS).read_text() == '{"f1": '
    assert not damaged_metrics.exists() and (damaged_metrics.parent / f"{METRICS}{DAMAGED}").exists()
    assert read_record(whole_run / TRAIN_CONFIG) and read_record(whole_metrics)
    assert set_aside_damaged([whole_run, missing], [whole_metrics]) == []


def test_a_record_damaged_again_replaces_the_one_set_aside_before(tmp_path):
    run = fine_tune_records(tmp_path / "train")
    for text in ("first", "second"):
        (run / DEV_METRICS).write_text(text)
        assert len(set_aside_damaged([run], [])) == 1
        fine_tune_records(run)
    assert (tmp_path / f"train{DAMAGED}" / DEV_METRICS).read_text() == "second"
