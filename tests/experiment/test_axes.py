"""The setup axes are declared once (nertransfer.experiment.axes); the ids, settings, records and schema follow.

An axis at its default leaves no trace: adding an axis, or a value of one, adds only the cells that
have it, and every other cell keeps its id, its job parameters and its records, so Snakemake reruns none of them.
"""

from __future__ import annotations

from conftest import REPO, axes_config, schema_errors
from nertransfer.experiment import axes
from nertransfer.experiment.config import load_experiment, schema
from nertransfer.experiment.matrix import Cell, canonical_json


def job_parameters(experiment, cell) -> str:
    """What the train rule passes a cell's job (its settings and its axes): a change in it reruns the cell."""
    return canonical_json([experiment.hyperparameters(cell), cell.axes(), experiment.types(cell)])


def test_adding_a_value_of_an_axis_adds_only_its_cells_and_changes_no_other_cell():
    before = load_experiment(axes_config(seeds=[1, 2]), REPO)
    after = load_experiment(axes_config(seeds=[1, 2], extra=[{"dropout": [0.3]}]), REPO)
    old = {cell.id: cell for cell in before.cells()}
    new = {cell.id: cell for cell in after.cells()}
    assert set(old) <= set(new)
    assert sorted(set(new) - set(old)) == ["tiny/hau/dropout0.3/seed1", "tiny/hau/dropout0.3/seed2"]
    assert {cell_id: job_parameters(after, new[cell_id]) for cell_id in old} == \
           {cell_id: job_parameters(before, cell) for cell_id, cell in old.items()}
    assert before.seeds_per_row() == {row: n for row, n in after.seeds_per_row().items() if "dropout" not in row}


def test_a_cell_at_every_default_keeps_the_id_and_the_records_it_had_before_the_axes_were_declared():
    cell = Cell.of("tiny", "hau", 1, dropout=None, label_set="all")
    assert cell == Cell("tiny", "hau", 1) and cell.id == "tiny/hau/base/seed1"
    assert cell.axes() == {"checkpoint": "tiny", "checkpoint_language": "", "train_language": "hau", "label_set": "all",
                           "train_size": "full", "grid_point": "default", "seed": 1}  # as every record so far has them
    assert axes.row_key(axes.record_axes(cell.axes())) == "tiny/hau//all/full/default"


def test_an_off_default_value_names_itself_in_the_id_the_settings_the_records_and_the_row():
    experiment = load_experiment(axes_config(label_sets=["no-date"], train_sizes=[100], dropout=[0.3],
                                             grid={"learning_rate": [0.001]}), REPO)
    (cell,) = experiment.cells()
    assert cell.id == "tiny/hau/labels-no-date+size-100+lr0.001+dropout0.3/seed1"
    assert (cell.label_set, cell.train_size, cell.grid_point, cell.dropout) == (
        "no-date", "100", (("learning_rate", 0.001),), 0.3)
    settings = experiment.hyperparameters(cell)
    assert (settings["dropout"], settings["train_size"], settings["learning_rate"]) == (0.3, 100, 0.001)
    assert experiment.types(cell) == ("LOC", "ORG", "PER")
    recorded = axes.record_axes(cell.axes())
    assert (recorded["dropout"], recorded["grid_point"]) == ("0.3", "lr0.001")
    assert axes.row_key(recorded) == "tiny/hau//no-date/100/lr0.001/dropout=0.3"


def test_a_record_written_before_an_axis_existed_reads_as_the_axis_default():
    old = {"checkpoint": "tiny", "train_language": "hau", "seed": 1, "label_set": "all", "train_size": "full",
           "grid_point": "default", "checkpoint_language": "hau"}
    assert axes.record_axes(old) == {**old, "checkpoint_language": "", "dropout": "default", "method": "full",
                                         "sampling_alpha": "default"}


def test_every_declared_axis_is_a_key_of_the_experiment_and_of_every_block_with_its_schema():
    shape = schema()
    for axis in axes.AXES:
        assert shape["$defs"]["axes"][axis.key] == dict(axis.schema)
        assert shape["properties"]["experiment"]["properties"][axis.key] == {"$ref": f"#/$defs/axes/{axis.key}"}
        assert shape["$defs"]["block"]["properties"][axis.key] == {"$ref": f"#/$defs/axes/{axis.key}"}
    assert schema_errors(axes_config(extra=[{"dropout": [0.0, 0.5]}])) == ""


def test_a_sequential_start_shares_the_label_set_but_not_the_other_axes():
    config = axes_config(checkpoints=["tiny-swa"], label_sets=["no-date"], dropout=[0.3])
    cells = {cell.id for cell in load_experiment(config, REPO).cells()}
    assert "tiny/swa/labels-no-date/seed1" in cells  # the start: the same label set, its own default dropout
    assert "tiny-swa/hau/labels-no-date+dropout0.3/seed1" in cells


def test_an_unknown_axis_is_refused_by_name():
    try:
        Cell.of("tiny", "hau", 1, droput=0.3)
    except TypeError as error:
        assert "unknown axis droput; declared: label_set, train_size, grid_point, dropout" in str(error)
    else:
        raise AssertionError("an unknown axis was taken")
