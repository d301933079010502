"""Checkpoint kinds are classes with one interface: a new kind is one class and one schema entry."""

from __future__ import annotations

from conftest import REPO, axes_config, merged
from nertransfer.experiment.checkpoints import KINDS, Checkpoint, HubCheckpoint
from nertransfer.experiment.config import load_experiment, schema


def test_each_kind_is_one_class_and_one_entry_of_the_schema():
    entry = schema()["properties"]["checkpoints"]["additionalProperties"]
    assert [option["required"] for option in entry["oneOf"]] == [[key] for key in KINDS]
    assert set(KINDS) <= set(entry["properties"])
    assert all(issubclass(kind, Checkpoint) and kind.key == key for key, kind in KINDS.items())


def experiment_with_every_kind(tmp_path):
    folder = tmp_path / "my model"
    folder.mkdir()
    config = axes_config(checkpoints=["tiny", "tiny-swa", "adapted", "mine", "hub"], train_languages=["hau"])
    config = merged(config, {"checkpoints": {"adapted": {"adapt": {"checkpoint": "tiny", "epochs": 1}},
                                             "mine": {"path": str(folder)},
                                             "hub": {"hub": "Davlan/xlm-roberta-base-finetuned-{language_name}",
                                                     "revision": "abc"}},
                             "datasets": {"masakhaner-1.0": {"languages": {"hau": "hausa", "swa": "swahili"}}}})
    return load_experiment(config, REPO), folder


def test_every_kind_answers_where_it_lives_what_it_is_and_what_makes_it(tmp_path):
    experiment, folder = experiment_with_every_kind(tmp_path)
    cells = {cell.id: cell for cell in experiment.cells()}
    made = {name: checkpoint.made_by for name, checkpoint in experiment.checkpoints.items()}
    assert made == {"tiny": "build_recipe", "tiny-swa": "train", "adapted": "adapt_checkpoint", "mine": None,
                    "hub": "prefetch_checkpoint"}
    folders = {cell_id: experiment.checkpoint_dir(cell) for cell_id, cell in cells.items() if cell.train_language == "hau"}
    assert folders == {"tiny/hau/base/seed1": "work/checkpoints/tiny",
                       "tiny-swa/hau/base/seed1": "work/runs/tiny/swa/base/seed1/model",
                       "adapted/hau/base/seed1": "work/checkpoints/adapted/hau",
                       "mine/hau/base/seed1": str(folder),
                       "hub/hau/base/seed1": "work/checkpoints/hub/Davlan/xlm-roberta-base-finetuned-hausa/abc"}
    per_language = {name: c.per_language for name, c in experiment.checkpoints.items()}
    assert per_language == {"tiny": False, "tiny-swa": False, "adapted": True, "mine": False, "hub": True}
    assert experiment.start_identity(cells["hub/hau/base/seed1"]) == ("hub", "Davlan/xlm-roberta-base-finetuned-hausa", "abc")
    assert experiment.start_identity(cells["mine/hau/base/seed1"]) == ("path", str(folder))
    assert experiment.start_identity(cells["tiny-swa/hau/base/seed1"])[0] == "finetuned"
    assert experiment.root_checkpoint("adapted").name == "tiny" and experiment.root_checkpoint("tiny-swa").name == "tiny"
    assert experiment.made_by("build_recipe") == ["tiny"] and experiment.made_by("adapt_checkpoint") == ["adapted"]
    assert list(experiment.hub_downloads()) == [("Davlan/xlm-roberta-base-finetuned-hausa", "abc")]
    assert experiment.data_needed()[("hau", "train")] == "the recipe checkpoint 'tiny'"


def test_a_hub_template_is_filled_per_language():
    checkpoint = HubCheckpoint("h", "org/model-{language}")
    experiment = load_experiment(axes_config(), REPO)
    assert checkpoint.per_language and checkpoint.hub_id("hau", experiment.dataset) == "org/model-hau"
    assert checkpoint.hub_download(None, experiment.dataset) == ("org/model-{language}", "main")


def test_a_pretrained_recipe_reads_no_data_and_leaves_its_positions_to_its_config():
    """multilingual-e5-small's tokenizer is fixed (it reads no training text, so a new language does not rebuild
    it) and its 512 positions are in the converted config, checked when training starts."""
    config = merged(axes_config(checkpoints=["e5", "tiny"], train_languages=["hau"]),
                    {"checkpoints": {"e5": {"recipe": {"name": "multilingual-e5-small"}}}})
    experiment = load_experiment(config, REPO)
    e5, tiny = experiment.checkpoints["e5"], experiment.checkpoints["tiny"]
    assert e5.made_by == tiny.made_by == "build_recipe"
    assert e5.reads(experiment.dataset, None) == [] and ("hau", "train") in tiny.reads(experiment.dataset, None)
    assert e5.max_positions() is None and tiny.max_positions() == 512
    assert e5.identity(experiment, None) == ("recipe", '{"name":"multilingual-e5-small"}')
