"""Checking a config: every mistake fails before any job, in one line naming its key."""

from __future__ import annotations

import pytest

from conftest import REPO, default_config, merged, schema_errors
from nertransfer.experiment.config import ConfigError, load_experiment


def test_an_effect_of_a_checkpoint_no_cell_is_trained_from_is_left_out_with_a_note_saying_what_to_do():
    inherited = merged(default_config(), {"experiment": {"checkpoints": ["tiny"]}})
    experiment = load_experiment(inherited, REPO)
    assert experiment.analyses["checkpoint_effects"] == []
    assert experiment.notes == ("config key 'analyses.checkpoint_effects[0]': tiny-swa vs tiny is left out: no cell is "
                                "trained from 'tiny-swa' (trained: tiny); list it in experiment.checkpoints to have it, "
                                "or `checkpoint_effects: []` to silence this",)
    adapted_only = merged(default_config(), {"checkpoints": {"adapted": {"adapt": {"checkpoint": "tiny"}}},
                                             "experiment": {"checkpoints": ["adapted"]},
                                             "analyses": {"checkpoint_effects": [{"checkpoint": "adapted", "baseline": "tiny"}]}})
    assert "no cell is trained from 'tiny'" in load_experiment(adapted_only, REPO).notes[0]  # tiny is only adapted from
    assert load_experiment(merged(inherited, {"analyses": {"checkpoint_effects": []}}), REPO).notes == ()
    assert load_experiment(default_config(), REPO).analyses["checkpoint_effects"] == [
        {"checkpoint": "tiny-swa", "baseline": "tiny"}]


@pytest.mark.parametrize("key, folder", [("work_dir", ""), ("results_dir", ""), ("results_dir", "/"),
                                         ("work_dir", "//")])
def test_a_work_or_results_folder_at_the_filesystem_root_is_refused_naming_the_key(key, folder):
    with pytest.raises(ConfigError, match=rf"^config key '{key}': {folder!r} would put outputs at the filesystem root"):
        load_experiment(merged(default_config(), {key: folder}), REPO)


@pytest.mark.parametrize("change, message", [
    ({"experiment": {"label_sets": ["nope"]}}, "config key 'experiment.label_sets': unknown label set(s) nope"),
    ({"label_sets": {"odd": ["LOC", "MISC"]}}, "config key 'label_sets.odd': unknown type(s) MISC"),
    ({"label_sets": {"all": ["PER"]}}, "config key 'label_sets.all': 'all' is reserved"),
    ({"experiment": {"checkpoint_languages": "all"}}, "config key 'experiment.checkpoint_languages': none of this block's"),
    ({"checkpoints": {"bad": {"adapt": {"checkpoint": "tiny-swa"}}}, "experiment": {"checkpoints": ["bad"]}},
     "config key 'checkpoints.bad.adapt.checkpoint': 'tiny-swa' differs per language or per seed"),
    ({"experiment": {"train_sizes": [1.5]}}, "1.5"),
    ({"experiment": {"grid": {"dropout": [0.1]}}}, "dropout"),
    ({"experiment": {"extra": [{"checkpoint_languages": ["xx"]}]}},
     "config key 'experiment.extra[0].checkpoint_languages': unknown language"),
    ({"checkpoints": {"tiny-swa": {"finetuned": {"checkpoint": "tiny-swa", "language": "swa"}}}}, "starts from itself"),
    ({"checkpoints": {"tiny-swa": {"finetuned": {"checkpoint": "tiny", "language": "xx"}}}},
     "config key 'checkpoints.tiny-swa.finetuned.language': unknown language"),
    ({"analyses": {"checkpoint_effects": [{"checkpoint": "tiny", "baseline": "gone"}]}},
     "config key 'analyses.checkpoint_effects[0].baseline': unknown checkpoint 'gone'"),
])
def test_axis_mistakes_fail_naming_the_key(change, message):
    config = merged(default_config(), change)
    error_text = schema_errors(config)
    if not error_text:
        with pytest.raises(ConfigError) as error:
            load_experiment(config, REPO)
        error_text = str(error.value)
    assert message in error_text


@pytest.mark.parametrize(
    "change, message",
    [
        ({"training": {"epoch": 3}}, "config key 'training': 'epoch' was unexpected; allowed here: epochs, learning_rate"),
        ({"training": {"epochs": 2.0}}, "config key 'training.epochs': expected an integer, got 2.0"),
        ({"training": {"batch_size": 16.0}}, "config key 'training.batch_size': expected an integer, got 16.0"),
        ({"checkpoints": {"tiny": {"recipe": {"layers": 2.0}}}}, "config key 'checkpoints.tiny.recipe.layers': "
                                                                 "expected an integer"),
        ({"experiment": {"seeds": [1, 1]}}, "config key 'experiment.seeds': 1 is given more than once in [1, 1]"),
        ({"experiment": {"seeds": [-1]}}, "config key 'experiment.seeds[0]': -1 is less than the minimum of 0"),
        ({"experiment": {"train_languages": ["hau", "hau"]}}, "config key 'experiment.train_languages': 'hau' is given more "
                                                              "than once in ['hau', 'hau']: give each value once; "
                                                              "expected: \"all\" (every language of the dataset) or a list"),
        ({"experiment": {"train_sizes": [1.5]}}, "config key 'experiment.train_sizes[0]': 1.5 is greater than or equal to the "
                                                  "maximum of 1; expected: 'full', a number of sentences (>= 1) or a fraction"),
        ({"checkpoints": {"both": {"hub": "a/b", "path": "c"}}}, "config key 'checkpoints.both': "
                                                                 "expected exactly one of hub, path"),
        ({"experiment": {"seed": [1]}}, "'seed' was unexpected"),
        ({"checkpoints": {"bad": {"hub": "x", "path": "y"}}}, "checkpoints"),
        ({"checkpoints": {"bad": {"recipe": {"name": "huge-xlmr"}}}}, "huge-xlmr"),
        ({"training": {"learning_rate": -1}}, "learning_rate"),
        ({"local_jobs_at_once": 0}, "config key 'local_jobs_at_once': 0 is less than the minimum of 1"),
        ({"training": {"cuda_graphs": "yes"}}, "config key 'training.cuda_graphs': expected a boolean"),
        ({"checkpoints": {"hub": {"hub": "not a hub id"}}}, "config key 'checkpoints.hub.hub': 'not a hub id' does not match"),
        # a declared axis is in the schema of the experiment and of every block (nertransfer.experiment.axes)
        ({"experiment": {"dropout": [1.0]}}, "config key 'experiment.dropout[0]': 1.0 is greater than or equal to the "
                                             "maximum of 1"),
        ({"experiment": {"extra": [{"dropout": [0.1, 0.1]}]}}, "config key 'experiment.extra[0].dropout': 0.1 is given more "
                                                              "than once in [0.1, 0.1]: give each value once; expected: hidden"),
        ({"experiment": {"grid": {"lr": [1]}}}, "config key 'experiment.grid': 'lr' was unexpected; allowed here: learning_rate"),
    ],
)
def test_schema_rejects_typos_and_impossible_values_naming_the_key_in_one_line(change, message):
    error = schema_errors(merged(default_config(), change))
    assert message in error, error
    assert "\n" not in error and len(error) < 400  # one line: not a dump of the schema and the config


@pytest.mark.parametrize("change, message", [
    ({"checkpoints": {"tiny": {"recipe": {"hidden_size": 100, "heads": 3}}}},
     "config key 'checkpoints.tiny.recipe': hidden_size 100 is not a multiple of heads 3"),
    ({"training": {"max_length": 600}}, "config key 'training.max_length': 600 is more than the 512 subword positions"),
    ({"checkpoints": {"tiny": {"revision": "abc"}}}, "config key 'checkpoints.tiny.revision': a revision pins a hub checkpoint"),
    ({"checkpoints": {"h": {"hub": "org/model-{lang}"}}, "experiment": {"checkpoints": ["h"]}},
     "config key 'checkpoints.h.hub': 'org/model-{lang}' has placeholder(s) {lang}; known: {language}, {language_name}"),
    ({"datasets": {"masakhaner-1.0": {"path": "data/masakhaner-1.0/{language}/{split}.{ext}"}}},
     "config key 'datasets.masakhaner-1.0.path': 'data/masakhaner-1.0/{language}/{split}.{ext}' has placeholder(s) {ext}"),
    ({"analyses": {"checkpoint_effects": [{"checkpoint": "tiny", "baseline": "tiny"}]}},
     "config key 'analyses.checkpoint_effects[0]': compares 'tiny' with itself"),
    ({"results_dir": "work/"}, "config key 'results_dir': 'work/' is also the work_dir"),
    ({"checkpoints": {"e5": {"recipe": {"name": "multilingual-e5-small", "layers": 2}}}, "experiment": {"checkpoints": ["e5"]}},
     "config key 'checkpoints.e5.recipe': recipe 'multilingual-e5-small' takes no setting layers"),
])
def test_values_a_schema_cannot_judge_fail_before_any_job_naming_the_key(change, message):
    config = merged(default_config(), change)
    assert schema_errors(config) == ""
    with pytest.raises(ConfigError) as error:
        load_experiment(config, REPO)
    assert message in str(error.value)


def test_data_paths_are_found_from_another_working_directory_through_the_workflow_folder(tmp_path):
    experiment = load_experiment(default_config(), tmp_path, workflow_dir=REPO)  # tmp_path holds no data/
    assert experiment.dataset.path == str(REPO / "data" / "masakhaner-1.0" / "{language}" / "{split}.txt")
    here = load_experiment(default_config(), REPO, workflow_dir=REPO)
    assert here.dataset.path == "data/masakhaner-1.0/{language}/{split}.txt"  # found where the run is: kept relative


def test_a_missing_data_file_is_named_with_where_it_was_looked_for(tmp_path):
    (tmp_path / "data" / "hau").mkdir(parents=True)
    config = merged(default_config(), {"datasets": {"mine": {"path": "data/{language}/{split}.txt", "languages": ["hau"]}},
                                       "experiment": {"dataset": "mine", "checkpoints": ["tiny"]},
                                       "analyses": {"checkpoint_effects": []}})
    with pytest.raises(ConfigError) as error:
        load_experiment(config, tmp_path, workflow_dir=REPO)
    assert (f"config key 'datasets.mine.path': 'data/hau/train.txt' (train set of 'hau', needed by the recipe checkpoint 'tiny') "
            f"is neither in '{tmp_path}' nor in '{REPO}'") in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"experiment": {"train_languages": ["hau", "xyz"]}}, "config key 'experiment.train_languages': "
                                                              "unknown language(s) 'xyz'"),
        ({"experiment": {"eval_languages": ["zul"]}}, "config key 'experiment.eval_languages': unknown language(s) 'zul'"),
        ({"experiment": {"checkpoints": ["tiny", "big"]}}, "config key 'experiment.checkpoints': unknown checkpoint 'big'"),
        ({"experiment": {"dataset": "conll2003"}}, "config key 'experiment.dataset': unknown dataset 'conll2003'"),
        ({"checkpoints": {"local": {"path": "no/such/folder"}}, "experiment": {"checkpoints": ["local"]}},
         "config key 'checkpoints.local.path': 'no/such/folder' is not an existing folder"),
    ],
)
def test_cross_references_fail_naming_the_key(change, message):
    with pytest.raises(ConfigError) as error:
        load_experiment(merged(default_config(), change), REPO)
    assert message in str(error.value)




# -- config files ---------------------------------------------------------------------------------

def test_a_yaml_syntax_error_names_file_line_and_column(tmp_path):
    from nertransfer.experiment.config import ConfigFileError, load_yaml

    (tmp_path / "tab.yaml").write_text("training:\n  epochs: 2\n\tbatch_size: 8\n")
    with pytest.raises(ConfigFileError, match=r"^\S*tab.yaml:3:1: not valid YAML: found character '\\t' that cannot start "
                       r"any token .*; YAML indents with spaces: replace the tab$"):
        load_yaml(tmp_path / "tab.yaml")
    (tmp_path / "open.yaml").write_text("experiment:\n  seeds: [1, 2\ntraining: {}\n")
    with pytest.raises(ConfigFileError, match=r"open.yaml:3:9: not valid YAML: expected ',' or ']'"):
        load_yaml(tmp_path / "open.yaml")
    (tmp_path / "list.yaml").write_text("- epochs: 2\n")
    with pytest.raises(ConfigFileError, match=r"list.yaml: expected a mapping of config keys"):
        load_yaml(tmp_path / "list.yaml")
    with pytest.raises(ConfigFileError, match=r"missing.yaml: No such file or directory: expected a YAML config file"):
        load_yaml(tmp_path / "missing.yaml")


def test_a_key_given_twice_in_a_config_file_is_refused_naming_file_line_and_key(tmp_path):
    """PyYAML (and Snakemake) silently keep the last of two equal keys; read_config (status) refuses them."""
    from nertransfer.experiment.config import ConfigFileError, read_config

    (tmp_path / "twice.yaml").write_text("checkpoints:\n  tiny:\n    training: {epochs: 2}\n    training: {epochs: 3}\n")
    with pytest.raises(ConfigFileError, match=r"twice.yaml:4:5: key 'training' is given twice in one mapping \(first on "
                       r"line 3\): expected each key once"):
        read_config(REPO, [tmp_path / "twice.yaml"])
    (tmp_path / "merge.yaml").write_text("a: &base {x: 1}\nb: {<<: *base, x: 2}\n")  # a merge key still overrides
    assert read_config(REPO, [tmp_path / "merge.yaml"])["b"] == {"x": 2}


def test_a_top_level_training_value_a_checkpoint_of_the_default_config_overrides_is_reported(tmp_path):
    from nertransfer.experiment.config import config_files, shadowed_training

    (tmp_path / "override.yaml").write_text("training: {epochs: 2, learning_rate: 1.0e-3, batch_size: 8}\n")
    files = config_files(REPO, [tmp_path / "override.yaml"])
    default = REPO / "config" / "config.yaml"
    assert shadowed_training(files) == [  # learning_rate: the checkpoints' own is the same; batch_size: none of their own
        f"{tmp_path / 'override.yaml'} sets training.epochs: 2, but checkpoints.{name}.training.epochs: 10 ({default}) wins "
        f"for the cells of checkpoint '{name}'; set it there to change them" for name in ("tiny", "tiny-swa")]


def test_a_checkpoint_training_value_set_as_late_or_not_trained_from_is_not_reported(tmp_path):
    from nertransfer.experiment.config import config_files, shadowed_training

    assert shadowed_training(config_files(REPO)) == []
    (tmp_path / "both.yaml").write_text("training: {epochs: 2}\ncheckpoints: {tiny: {training: {epochs: 3}}}\n"
                                        "experiment: {checkpoints: [tiny]}\n")
    assert shadowed_training(config_files(REPO, [tmp_path / "both.yaml"])) == []
    (tmp_path / "extra.yaml").write_text("training: {epochs: 2}\n"
                                         "experiment: {checkpoints: [tiny], extra: [{checkpoints: [tiny-swa]}]}\n")
    assert [line.split("wins for the cells of ")[1]
            for line in shadowed_training(config_files(REPO, [tmp_path / "extra.yaml"]))] == [
        "checkpoint 'tiny'; set it there to change them", "checkpoint 'tiny-swa'; set it there to change them"]
    (tmp_path / "tiny-only.yaml").write_text("training: {epochs: 2}\nexperiment: {checkpoints: [tiny]}\n")
    assert ["'tiny-swa'" in line for line in shadowed_training(config_files(REPO, [tmp_path / "tiny-only.yaml"]))] == [False]
