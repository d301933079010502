"""The experiment matrix: cells expanded from the config's blocks and axes, named by their values."""

from __future__ import annotations

import yaml

from conftest import REPO, axes_config, default_config, merged, schema_errors
from nertransfer.experiment.config import load_experiment


def test_the_default_is_the_full_masakhaner_matrix_with_the_tiny_recipe_and_its_swahili_start():
    experiment = load_experiment(default_config(), REPO)
    cells = experiment.cells()
    assert len(cells) == 20 and {c.train_language for c in cells} == set(experiment.dataset.languages)
    assert {c.checkpoint for c in cells} == {"tiny", "tiny-swa"}
    assert len(experiment.eval_languages) == 10
    assert experiment.checkpoints["tiny"].key == "recipe"
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
    cell = next(c for c in cells if c.checkpoint == "xlmr-language" and c.train_language == "swa"
                                    and c.checkpoint_language == "swa")
    assert experiment.checkpoint_dir(cell) == "work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-swahili/main"
    crossed = [c for c in cells if c.checkpoint_language not in (None, c.train_language)]
    assert {c.train_language for c in crossed} == {"swa"} and len({c.checkpoint_language for c in crossed}) == 9
    pcm_on_swa = next(c for c in crossed if c.checkpoint_language == "pcm" and c.seed == 1)
    assert pcm_on_swa.id == "xlmr-language@pcm/swa/base/seed1"
    assert experiment.checkpoint_dir(pcm_on_swa) == "work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-naija/main"
    assert experiment.hyperparameters(cell)["epochs"] == 50


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


def test_hyperparameters_resolve_defaults_then_config_then_checkpoint():
    experiment = load_experiment(default_config(), REPO)
    hp = experiment.hyperparameters(experiment.cells()[0])
    assert hp["learning_rate"] == 1e-3 and hp["batch_size"] == 32 and hp["max_grad_norm"] == 1.0 and hp["seed"] == 1


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


def test_cells_that_start_from_the_same_files_with_the_same_data_and_settings_share_one_fine_tune():
    """The study fine-tunes swa twice from Davlan's Swahili model: as xlmr-language/swa and xlmr-swahili/swa."""
    experiment = load_experiment(merged(default_config(), yaml.safe_load((REPO / "config" / "paper.yaml").read_text())), REPO)
    shared = {cell_id: owner.id for cell_id, owner in experiment.fine_tunes().items() if owner.id != cell_id}
    assert shared == {f"xlmr-swahili/swa/base/seed{k}": f"xlmr-language/swa/base/seed{k}" for k in range(1, 6)}
    cells = {cell.id: cell for cell in experiment.cells()}
    assert experiment.model_dir(cells["xlmr-swahili/swa/base/seed3"]) == "work/runs/xlmr-language/swa/base/seed3/model"
    assert len(experiment.hub_downloads()) == 11  # xlm-roberta-base and one per language: the Swahili one serves both
    assert experiment.hub_downloads()[("Davlan/xlm-roberta-base-finetuned-swahili", "main")] == [
        ("xlmr-language", "swa"), ("xlmr-swahili", None)]
    # a different seed, setting or start is a different fine-tune
    other = load_experiment(merged(default_config(), yaml.safe_load((REPO / "config" / "paper.yaml").read_text()),
                                   {"checkpoints": {"xlmr-swahili": {"revision": "v1"}}}), REPO)
    assert all(owner.id == cell_id for cell_id, owner in other.fine_tunes().items())


def test_each_table_row_is_configured_with_its_seeds():
    experiment = load_experiment(merged(default_config(), yaml.safe_load((REPO / "config" / "paper.yaml").read_text())), REPO)
    rows = experiment.seeds_per_row()
    assert len(rows) == 39 and set(rows.values()) == {5}  # 3 checkpoints x 10 languages, 9 crossed
    assert rows["xlmr-base/hau//all/full/default"] == 5 and rows["xlmr-language/swa/pcm/all/full/default"] == 5
