"""The config: validated by the schema and by nertransfer.config, expanded into cells."""

from __future__ import annotations

import copy

import pytest
import yaml

from nertransfer.config import ConfigError, load_experiment

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


def schema_errors(config: dict) -> str:
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    try:
        validate(config, str(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    except WorkflowError as error:
        return str(error)
    return ""


def test_the_default_is_the_full_masakhaner_matrix_with_the_tiny_recipe():
    experiment = load_experiment(default_config(), REPO)
    cells = experiment.cells()
    assert len(cells) == 10 and {c.train_language for c in cells} == set(experiment.dataset.languages)
    assert len(experiment.eval_languages) == 10
    assert experiment.checkpoints["tiny"].kind == "recipe"
    assert experiment.dataset.file("luo", "train") == "data/masakhaner-1.0/luo/train.txt"
    assert (REPO / experiment.dataset.file("luo", "train")).exists()


def test_the_paper_config_is_150_fine_tunes_from_three_hub_checkpoints():
    config = merged(default_config(), yaml.safe_load((REPO / "config" / "paper.yaml").read_text()))
    assert schema_errors(config) == ""
    experiment = load_experiment(config, REPO)
    assert len(experiment.cells()) == 150
    language_start = experiment.checkpoints["xlmr-language"]
    assert language_start.per_language
    assert language_start.hub_id("pcm", experiment.dataset) == "Davlan/xlm-roberta-base-finetuned-naija"
    cell = next(c for c in experiment.cells() if c.checkpoint == "xlmr-language" and c.train_language == "swa")
    assert experiment.checkpoint_dir(cell) == "work/checkpoints/xlmr-language/swa"
    assert experiment.hyperparameters(cell)["epochs"] == 50


def test_hyperparameters_resolve_defaults_then_config_then_checkpoint():
    experiment = load_experiment(default_config(), REPO)
    hp = experiment.hyperparameters(experiment.cells()[0])
    assert hp["learning_rate"] == 1e-3 and hp["batch_size"] == 32 and hp["max_grad_norm"] == 1.0 and hp["seed"] == 1


@pytest.mark.parametrize(
    "change, message",
    [
        ({"training": {"epoch": 3}}, "'epoch' was unexpected"),
        ({"experiment": {"seed": [1]}}, "'seed' was unexpected"),
        ({"checkpoints": {"bad": {"hub": "x", "path": "y"}}}, "checkpoints"),
        ({"checkpoints": {"bad": {"recipe": {"name": "huge-xlmr"}}}}, "huge-xlmr"),
        ({"training": {"learning_rate": -1}}, "learning_rate"),
    ],
)
def test_schema_rejects_typos_and_impossible_values_naming_the_key(change, message):
    assert message in schema_errors(merged(default_config(), change))


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
    assert "tiny/hau/seed2" in ids and len(ids) == len(set(ids)) == 20


def test_masakhaner_2_is_a_config_entry_with_its_20_languages_shipped():
    experiment = load_experiment(merged(default_config(), {"experiment": {"dataset": "masakhaner-2.0"}}), REPO)
    assert len(experiment.dataset.languages) == 20 and len(experiment.cells()) == 20
    for language in experiment.dataset.languages:
        for split in ("train", "dev", "test"):
            assert (REPO / experiment.dataset.file(language, split)).exists()
