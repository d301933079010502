"""Training sets: several languages trained together, named wherever a training language is.

A set's cell trains on the union of its languages' training files, is scored on each language's
dev set (and selects on their mean), and is evaluated on every evaluation language and each of its
own. A leave-one-out family yields one set per evaluation language of its pool. Adding a set adds
only its cells: every other cell keeps its id and its job parameters.
"""

from __future__ import annotations

import pytest

from conftest import REPO, axes_config, schema_errors
from nertransfer.experiment.config import ConfigError, load_experiment
from nertransfer.experiment.matrix import canonical_json


def sets_config(train_sets: dict, **experiment) -> dict:
    config = axes_config(**experiment)
    config["train_sets"] = train_sets
    return config


def job_parameters(experiment, cell) -> str:
    return canonical_json([experiment.hyperparameters(cell), cell.axes(), experiment.training_data(cell),
                           experiment.evaluation_languages(cell)])


def test_a_set_is_a_training_language_of_its_own_trained_on_each_of_its_languages_files():
    experiment = load_experiment(sets_config({"hau+swa": ["swa", "hau"]}, train_languages=["hau+swa"]), REPO)
    (cell,) = experiment.cells()
    assert cell.id == "tiny/hau+swa/base/seed1" and cell.train_language == "hau+swa"
    assert experiment.languages_of("hau+swa") == ("hau", "swa")  # the dataset's order, whatever the config's
    assert experiment.training_data(cell) == {
        "train.hau": "data/masakhaner-1.0/hau/train.txt", "train.swa": "data/masakhaner-1.0/swa/train.txt",
        "dev.hau": "data/masakhaner-1.0/hau/dev.txt", "dev.swa": "data/masakhaner-1.0/swa/dev.txt"}
    assert experiment.evaluation_languages(cell)[-1] != "hau+swa" and "swa" in experiment.evaluation_languages(cell)
    assert experiment.own_languages(cell) == ("hau", "swa")
    recipe_reads = {(code, "train") for code in experiment.dataset.languages}  # the tiny recipe's tokenizer
    assert {(language, split) for language, split in experiment.data_needed() if split != "test"} == {
        ("hau", "train"), ("hau", "dev"), ("swa", "train"), ("swa", "dev"), *recipe_reads}


def test_a_set_only_on_some_evaluation_languages_is_also_evaluated_on_its_own():
    experiment = load_experiment(sets_config({"hau+swa": ["hau", "swa"]}, train_languages=["hau+swa"],
                                             eval_languages=["yor"]), REPO)
    (cell,) = experiment.cells()
    assert experiment.evaluation_languages(cell) == ("yor", "hau", "swa")


def test_leave_one_out_yields_one_set_per_evaluation_language_of_its_pool_that_holds_it_out():
    config = sets_config({"all-but": {"leave_one_out": ["hau", "ibo", "swa", "yor"]}}, train_languages=["all-but"],
                         eval_languages=["hau", "swa", "amh"])
    experiment = load_experiment(config, REPO)
    assert [cell.train_language for cell in experiment.cells()] == ["all-but-hau", "all-but-swa"]  # amh: not in the pool
    assert experiment.languages_of("all-but-hau") == ("ibo", "swa", "yor")
    assert experiment.held_out == {"all-but-hau": "hau", "all-but-swa": "swa"}
    one = load_experiment({**config, "experiment": {**config["experiment"], "train_languages": ["all-but-swa"]}}, REPO)
    assert [cell.id for cell in one.cells()] == ["tiny/all-but-swa/base/seed1"]  # one set of the family by its name


def test_adding_a_set_adds_only_its_cells_and_changes_no_other_cell():
    before = load_experiment(axes_config(train_languages=["hau", "swa"], seeds=[1, 2]), REPO)
    after = load_experiment(sets_config({"hau+swa": ["hau", "swa"]}, train_languages=["hau", "swa", "hau+swa"],
                                        seeds=[1, 2], extra=[{"train_languages": ["hau", "hau+swa"],
                                                              "sampling_alpha": [0.5]}]), REPO)
    old = {cell.id: cell for cell in before.cells()}
    new = {cell.id: cell for cell in after.cells()}
    assert sorted(set(new) - set(old)) == ["tiny/hau+swa/alpha0.5/seed1", "tiny/hau+swa/alpha0.5/seed2",
                                           "tiny/hau+swa/base/seed1", "tiny/hau+swa/base/seed2"]
    # a single language ignores the sampling axis: no hau/alpha0.5 cell, and hau's cells are as they were
    assert {cell_id: job_parameters(after, new[cell_id]) for cell_id in old} == \
           {cell_id: job_parameters(before, cell) for cell_id, cell in old.items()}
    assert after.hyperparameters(new["tiny/hau+swa/alpha0.5/seed1"])["sampling_alpha"] == 0.5
    assert "sampling_alpha" not in after.hyperparameters(new["tiny/hau+swa/base/seed1"])


def test_two_names_for_the_same_languages_share_one_fine_tune():
    experiment = load_experiment(sets_config({"a": ["hau", "swa"], "b": ["swa", "hau"]}, train_languages=["a", "b"]), REPO)
    assert experiment.fine_tunes()["tiny/b/base/seed1"].id == "tiny/a/base/seed1"


def test_a_sequential_start_may_be_a_model_trained_on_a_set():
    config = sets_config({"hau+swa": ["hau", "swa"]}, checkpoints=["tiny-after"], train_languages=["yor"])
    config["checkpoints"]["tiny-after"] = {"finetuned": {"checkpoint": "tiny", "language": "hau+swa"}}
    experiment = load_experiment(config, REPO)
    assert [cell.id for cell in experiment.cells()] == ["tiny-after/yor/base/seed1", "tiny/hau+swa/base/seed1"]


@pytest.mark.parametrize(("train_sets", "experiment", "message"), [
    ({"hau": ["hau", "swa"]}, {}, "config key 'train_sets.hau': 'hau' is a language of dataset 'masakhaner-1.0'"),
    ({"x": ["hau", "xyz"]}, {}, "config key 'train_sets.x': unknown language(s) 'xyz'"),
    ({"x": {"leave_one_out": ["hau", "swa"]}}, {},
     "config key 'train_sets.x.leave_one_out': expected at least 3 languages"),
    ({"x": ["hau", "swa"]}, {"train_languages": ["x", "y"]},
     "config key 'experiment.train_languages': unknown language(s) 'y' (nor training sets)"),
    ({"x": ["hau", "swa"], "all-but-hau": ["ibo", "yor"], "all-but": {"leave_one_out": "all"}}, {},
     "config key 'train_sets.all-but': the training set 'all-but-hau' is defined twice"),
])
def test_a_wrong_set_is_refused_in_one_line_naming_its_key(train_sets, experiment, message):
    with pytest.raises(ConfigError) as error:
        load_experiment(sets_config(train_sets, **{"train_languages": ["hau"], **experiment}), REPO)
    assert str(error.value).startswith(message)


def test_a_set_cannot_start_from_a_checkpoint_per_language_unless_told_which():
    config = sets_config({"x": ["hau", "swa"]}, checkpoints=["adapted"], train_languages=["x"])
    config["checkpoints"]["adapted"] = {"adapt": {"checkpoint": "tiny"}}
    with pytest.raises(ConfigError, match="'x' is a training set, and 'adapted' has a checkpoint per language"):
        load_experiment(config, REPO)
    config["experiment"]["checkpoint_languages"] = ["hau"]
    (cell,) = load_experiment(config, REPO).cells()
    assert cell.id == "adapted@hau/x/base/seed1"


def test_the_schema_checks_a_set_s_shape():
    assert schema_errors(sets_config({"x": ["hau"]})).startswith("config key 'train_sets.x'")  # one language is no set
    assert schema_errors(sets_config({"x": {"leave_one_out": "all", "extra": 1}})).startswith("config key 'train_sets.x'")
    assert schema_errors(sets_config({"x/y": ["hau", "swa"]})).startswith("config key 'train_sets'")
    assert schema_errors(sets_config({"hau+swa": ["hau", "swa"]}, sampling_alpha=[0.3])) == ""
    assert schema_errors(sets_config({}, sampling_alpha=[1.5])).startswith("config key 'experiment.sampling_alpha[0]'")


def test_sampling_in_a_block_without_a_set_is_said_to_do_nothing():
    experiment = load_experiment(sets_config({"hau+swa": ["hau", "swa"]}, train_languages=["hau+swa"],
                                             extra=[{"train_languages": ["yor"], "sampling_alpha": [0.5]}]), REPO)
    assert [cell.id for cell in experiment.cells()] == ["tiny/hau+swa/base/seed1", "tiny/yor/base/seed1"]
    assert any(note.startswith("config key 'experiment.extra[0].sampling_alpha': this block trains no training set")
               for note in experiment.notes)
