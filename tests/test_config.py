"""The config: validated by the schema and by nertransfer.config, expanded into cells."""

from __future__ import annotations

import copy

import pytest
import yaml

from nertransfer.config import ConfigError, check_schema, load_experiment

from conftest import REPO


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def merged(*configs: dict) -> dict:
    """Merge configs as Snakemake merges --configfile into the default (nested dicts update)."""
    result: dict = {}
    for config in configs:
        for key, value in config.items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def schema_errors(config: dict) -> str:
    try:
        check_schema(config, SCHEMA)
    except ConfigError as error:
        return str(error)
    return ""


def test_the_default_is_the_full_masakhaner_matrix_with_the_tiny_recipe_and_its_swahili_start():
    experiment = load_experiment(default_config(), REPO)
    cells = experiment.cells()
    assert len(cells) == 20 and {c.train_language for c in cells} == set(experiment.dataset.languages)
    assert {c.checkpoint for c in cells} == {"tiny", "tiny-swa"}
    assert len(experiment.eval_languages) == 10
    assert experiment.checkpoints["tiny"].kind == "recipe"
    assert experiment.dataset.file("luo", "train") == "data/masakhaner-1.0/luo/train.txt"
    assert (REPO / experiment.dataset.file("luo", "train")).exists()


def test_the_paper_config_is_the_study_with_its_cross_cells():
    config = merged(default_config(), yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    assert schema_errors(config) == ""
    experiment = load_experiment(config, REPO)
    cells = experiment.cells()
    assert len(cells) == 150 + 45  # 3 checkpoints x 10 languages x 5 seeds, and 9 crossed checkpoints on swa x 5 seeds
    language_start = experiment.checkpoints["xlmr-language"]
    assert language_start.per_language
    assert language_start.hub_id("pcm", experiment.dataset) == "Davlan/xlm-roberta-base-finetuned-naija"
    cell = next(c for c in cells if c.checkpoint == "xlmr-language" and c.train_language == "swa" and c.checkpoint_language == "swa")
    assert experiment.checkpoint_dir(cell) == "work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-swahili/main"
    crossed = [c for c in cells if c.checkpoint_language not in (None, c.train_language)]
    assert {c.train_language for c in crossed} == {"swa"} and len({c.checkpoint_language for c in crossed}) == 9
    pcm_on_swa = next(c for c in crossed if c.checkpoint_language == "pcm" and c.seed == 1)
    assert pcm_on_swa.id == "xlmr-language@pcm/swa/base/seed1"
    assert experiment.checkpoint_dir(pcm_on_swa) == "work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-naija/main"
    assert experiment.hyperparameters(cell)["epochs"] == 50


def axes_config(**experiment) -> dict:
    config = merged(default_config(), {"label_sets": {"no-date": ["LOC", "ORG", "PER"]}})
    config["experiment"] = {"dataset": "masakhaner-1.0", "checkpoints": ["tiny"], "train_languages": ["hau"], **experiment}
    config.pop("analyses")
    return config


def test_each_axis_expands_into_cells_named_by_their_values():
    experiment = load_experiment(axes_config(label_sets=["all", "no-date"], train_sizes=["full", 100, 0.25],
                                             grid={"learning_rate": [1e-3, 3e-3], "batch_size": [16]}), REPO)
    ids = {c.id for c in experiment.cells()}
    assert len(ids) == 2 * 3 * 2
    assert {"tiny/hau/lr0.001_bs16/seed1", "tiny/hau/labels-no-date+size-100+lr0.003_bs16/seed1",
            "tiny/hau/size-0.25+lr0.001_bs16/seed1"} <= ids
    cell = next(c for c in experiment.cells() if c.label_set == "no-date" and c.train_size == "100" and c.grid_point)
    hp = experiment.hyperparameters(cell)
    assert hp["train_size"] == 100 and hp["batch_size"] == 16 and experiment.types(cell) == ("LOC", "ORG", "PER")
    fraction = next(c for c in experiment.cells() if c.train_size == "0.25")
    assert experiment.hyperparameters(fraction)["train_size"] == 0.25
    tiny_fraction = load_experiment(axes_config(train_sizes=[0.00005]), REPO).cells()[0]
    assert tiny_fraction.train_size == "5e-05"
    assert load_experiment(axes_config(train_sizes=[0.00005]), REPO).hyperparameters(tiny_fraction)["train_size"] == 0.00005
    assert "train_size" not in experiment.hyperparameters(next(c for c in experiment.cells() if c.train_size == "full"))


def test_extra_blocks_add_cells_and_share_the_ones_they_repeat():
    experiment = load_experiment(axes_config(seeds=[1], extra=[{"train_languages": ["hau", "swa"]}, {"seeds": [2]}]), REPO)
    assert sorted(c.id for c in experiment.cells()) == ["tiny/hau/base/seed1", "tiny/hau/base/seed2", "tiny/swa/base/seed1"]


def test_sequential_transfer_trains_the_cell_it_starts_from():
    config = axes_config(checkpoints=["tiny-swa"], train_languages=["kin"], seeds=[3])
    experiment = load_experiment(config, REPO)
    cells = {c.id: c for c in experiment.cells()}
    assert set(cells) == {"tiny-swa/kin/base/seed3", "tiny/swa/base/seed3"}  # the start is a fine-tune of its own
    assert experiment.checkpoint_dir(cells["tiny-swa/kin/base/seed3"]) == "work/runs/tiny/swa/base/seed3/model"


def test_an_adapted_checkpoint_is_per_language_and_can_be_crossed_with_the_training_language():
    config = axes_config(checkpoints=["adapted"], train_languages=["swa"], checkpoint_languages=["hau", "swa"])
    config["checkpoints"]["adapted"] = {"adapt": {"checkpoint": "tiny", "epochs": 1}}
    assert schema_errors(config) == ""
    experiment = load_experiment(config, REPO)
    assert sorted(c.id for c in experiment.cells()) == ["adapted/swa/base/seed1", "adapted@hau/swa/base/seed1"]
    crossed = next(c for c in experiment.cells() if c.checkpoint_language == "hau")
    assert experiment.checkpoint_dir(crossed) == "work/checkpoints/adapted/hau"


def test_an_inherited_effect_of_checkpoints_the_experiment_does_not_train_is_left_out():
    config = merged(default_config(), {"experiment": {"checkpoints": ["tiny"]}})
    assert load_experiment(config, REPO).analyses["checkpoint_effects"] == []
    adapted_only = merged(default_config(), {"checkpoints": {"adapted": {"adapt": {"checkpoint": "tiny"}}},
                                             "experiment": {"checkpoints": ["adapted"]},
                                             "analyses": {"checkpoint_effects": [{"checkpoint": "adapted", "baseline": "tiny"}]}})
    assert load_experiment(adapted_only, REPO).analyses["checkpoint_effects"] == []  # tiny is only adapted from
    assert load_experiment(default_config(), REPO).analyses["checkpoint_effects"] == [{"checkpoint": "tiny-swa", "baseline": "tiny"}]


@pytest.mark.parametrize("change, message", [
    ({"experiment": {"label_sets": ["nope"]}}, "config key 'experiment.label_sets': unknown label set(s) nope"),
    ({"label_sets": {"odd": ["LOC", "MISC"]}}, "config key 'label_sets.odd': unknown type(s) MISC"),
    ({"label_sets": {"all": ["PER"]}}, "config key 'label_sets.all': 'all' is reserved"),
    ({"experiment": {"checkpoint_languages": "all"}}, "config key 'experiment.checkpoint_languages': none of this block's"),
    ({"checkpoints": {"bad": {"adapt": {"checkpoint": "tiny-swa"}}}, "experiment": {"checkpoints": ["bad"]}},
     "config key 'checkpoints.bad.adapt.checkpoint': 'tiny-swa' differs per language or per seed"),
    ({"experiment": {"train_sizes": [1.5]}}, "1.5"),
    ({"experiment": {"grid": {"dropout": [0.1]}}}, "dropout"),
    ({"experiment": {"extra": [{"checkpoint_languages": ["xx"]}]}}, "config key 'experiment.extra[0].checkpoint_languages': unknown language"),
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


def test_hyperparameters_resolve_defaults_then_config_then_checkpoint():
    experiment = load_experiment(default_config(), REPO)
    hp = experiment.hyperparameters(experiment.cells()[0])
    assert hp["learning_rate"] == 1e-3 and hp["batch_size"] == 32 and hp["max_grad_norm"] == 1.0 and hp["seed"] == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"training": {"epoch": 3}}, "config key 'training': 'epoch' was unexpected; allowed here: epochs, learning_rate"),
        ({"training": {"epochs": 2.0}}, "config key 'training.epochs': expected an integer, got 2.0"),
        ({"training": {"batch_size": 16.0}}, "config key 'training.batch_size': expected an integer, got 16.0"),
        ({"checkpoints": {"tiny": {"recipe": {"layers": 2.0}}}}, "config key 'checkpoints.tiny.recipe.layers': expected an integer"),
        ({"experiment": {"seeds": [1, 1]}}, "config key 'experiment.seeds': 1 is given more than once in [1, 1]"),
        ({"experiment": {"seeds": [-1]}}, "config key 'experiment.seeds[0]': -1 is less than the minimum of 0"),
        ({"experiment": {"train_languages": ["hau", "hau"]}}, "config key 'experiment.train_languages': 'hau' is given more "
                                                              "than once in ['hau', 'hau']: give each value once; expected: \"all\" or a list"),
        ({"experiment": {"train_sizes": [1.5]}}, "config key 'experiment.train_sizes[0]': 1.5 is greater than or equal to the "
                                                  "maximum of 1; expected: 'full', a number of sentences (>= 1) or a fraction"),
        ({"checkpoints": {"both": {"hub": "a/b", "path": "c"}}}, "config key 'checkpoints.both': expected exactly one of hub, path"),
        ({"experiment": {"seed": [1]}}, "'seed' was unexpected"),
        ({"checkpoints": {"bad": {"hub": "x", "path": "y"}}}, "checkpoints"),
        ({"checkpoints": {"bad": {"recipe": {"name": "huge-xlmr"}}}}, "huge-xlmr"),
        ({"training": {"learning_rate": -1}}, "learning_rate"),
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
                                       "experiment": {"dataset": "mine", "checkpoints": ["tiny"]}})
    with pytest.raises(ConfigError) as error:
        load_experiment(config, tmp_path, workflow_dir=REPO)
    assert (f"config key 'datasets.mine.path': 'data/hau/train.txt' (train set of 'hau', needed by a recipe's tokenizer) "
            f"is neither in '{tmp_path}' nor in '{REPO}'") in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"experiment": {"train_languages": ["hau", "xyz"]}}, "config key 'experiment.train_languages': unknown language(s) 'xyz'"),
        ({"experiment": {"eval_languages": ["zul"]}}, "config key 'experiment.eval_languages': unknown language(s) 'zul'"),
        ({"experiment": {"checkpoints": ["tiny", "big"]}}, "config key 'experiment.checkpoints': unknown checkpoint 'big'"),
        ({"experiment": {"dataset": "conll2003"}}, "config key 'experiment.dataset': unknown dataset 'conll2003'"),
        ({"checkpoints": {"local": {"path": "no/such/folder"}}, "experiment": {"checkpoints": ["local"]}},
         "config key 'checkpoints.local.path': 'no/such/folder' is not an existing folder"),
        ({"checkpoints": {"hub": {"hub": "not a hub id"}}, "experiment": {"checkpoints": ["hub"]}},
         "config key 'checkpoints.hub.hub': 'not a hub id' is not a hub id"),
    ],
)
def test_cross_references_fail_naming_the_key(change, message):
    with pytest.raises(ConfigError) as error:
        load_experiment(merged(default_config(), change), REPO)
    assert message in str(error.value)


def test_cell_ids_name_every_axis():
    experiment = load_experiment(merged(default_config(), {"experiment": {"seeds": [1, 2]}}), REPO)
    ids = [c.id for c in experiment.cells()]
    assert "tiny/hau/base/seed2" in ids and len(ids) == len(set(ids)) == 40


def test_masakhaner_2_is_a_config_entry_with_its_20_languages_shipped():
    experiment = load_experiment(merged(default_config(), {"experiment": {"dataset": "masakhaner-2.0"}}), REPO)
    assert len(experiment.dataset.languages) == 20 and len(experiment.cells()) == 40
    for language in experiment.dataset.languages:
        for split in ("train", "dev", "test"):
            assert (REPO / experiment.dataset.file(language, split)).exists()
