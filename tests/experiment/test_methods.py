"""The method axis: full fine-tuning (the default), LoRA, and MAD-X over language adapters.

A method is a value of an axis like any other: `full` leaves no trace (every cell as before), and a
LoRA or MAD-X cell is a new cell whose settings carry its adapter. MAD-X names an adapt checkpoint
with `lora:`, which makes one language adapter per language; a language without one falls back to
the training language's.
"""

from __future__ import annotations

import pytest

from conftest import REPO, axes_config, schema_errors
from nertransfer.experiment.config import ConfigError, load_experiment
from nertransfer.experiment.matrix import canonical_json

LANGUAGE_ADAPTERS = {"adapt": {"checkpoint": "tiny", "lora": {"rank": 4}, "languages": ["hau", "swa"]}}


def methods_config(methods, **experiment) -> dict:
    config = axes_config(methods=methods, **{"train_languages": ["hau"], "eval_languages": ["hau", "swa", "yor"],
                                             **experiment})
    config["checkpoints"]["tiny-lang"] = dict(LANGUAGE_ADAPTERS)
    return config


def test_full_is_the_default_and_adding_methods_adds_only_their_cells():
    before = load_experiment(axes_config(train_languages=["hau"]), REPO)
    after = load_experiment(methods_config(["full", {"lora": None}, {"lora": {"rank": 16, "target_modules": ["value", "query"]}},
                                           {"madx": {"language_adapters": "tiny-lang"}}]), REPO)
    (old,) = before.cells()
    new = {cell.id: cell for cell in after.cells()}
    assert sorted(new) == ["tiny/hau/base/seed1", "tiny/hau/lora-r16-tquery.value/seed1", "tiny/hau/lora/seed1",
                           "tiny/hau/madx-tiny-lang/seed1"]
    assert canonical_json(after.hyperparameters(new[old.id])) == canonical_json(before.hyperparameters(old))
    assert after.hyperparameters(new["tiny/hau/lora/seed1"])["adapter"] == {"method": "lora", "rank": 8, "alpha": 16,
                                                                           "dropout": 0.1}
    madx = after.hyperparameters(new["tiny/hau/madx-tiny-lang/seed1"])["adapter"]
    assert (madx["method"], madx["language_adapters"]) == ("madx", "tiny-lang")


def test_a_madx_cell_swaps_in_each_language_s_adapter_or_falls_back_to_its_own():
    experiment = load_experiment(methods_config([{"madx": {"language_adapters": "tiny-lang"}}]), REPO)
    (cell,) = experiment.cells()
    assert experiment.language_adapter(cell, "swa") == ("work/checkpoints/tiny-lang/swa", "swa")
    assert experiment.language_adapter(cell, "yor") == ("work/checkpoints/tiny-lang/hau", "hau")  # none for yor
    assert ("hau", "train") in experiment.data_needed() and ("swa", "train") in experiment.data_needed()
    assert experiment.made_by("adapt_checkpoint") == ["tiny-lang"]


@pytest.mark.parametrize(("change", "message"), [
    ({"train_languages": ["yor"]}, "MAD-X trains its task adapter over the training language's adapter, and 'tiny-lang' "
                                   "has none for 'yor'"),
    ({"checkpoints": ["tiny-lang"]}, "'tiny-lang' makes LoRA language adapters, not models to fine-tune"),
])
def test_a_madx_cell_needs_its_training_language_s_adapter_and_an_adapter_is_no_start(change, message):
    with pytest.raises(ConfigError, match=message):
        load_experiment(methods_config([{"madx": {"language_adapters": "tiny-lang"}}], **change), REPO)


def test_language_adapters_must_be_lora_adapters_of_the_cell_s_own_start():
    config = methods_config([{"madx": {"language_adapters": "tiny-lang"}}])
    config["checkpoints"]["tiny-lang"] = {"adapt": {"checkpoint": "tiny"}}
    with pytest.raises(ConfigError, match="is not an adapt checkpoint with `lora:`"):
        load_experiment(config, REPO)
    config["checkpoints"]["other"] = {"recipe": {"name": "tiny-xlmr", "vocab_size": 500, "seed": 3}}
    config["checkpoints"]["tiny-lang"] = {"adapt": {"checkpoint": "other", "lora": {}}}
    with pytest.raises(ConfigError, match="adapts 'other', but cell tiny/hau/madx-tiny-lang/seed1 starts from 'tiny'"):
        load_experiment(config, REPO)
    config["checkpoints"]["tiny-lang"] = {"adapt": {"checkpoint": "tiny", "languages": ["hau"]}}
    with pytest.raises(ConfigError, match="only language adapters"):
        load_experiment(config, REPO)


def test_the_schema_checks_a_method_s_shape():
    assert schema_errors(methods_config([{"lora": {"rank": 0}}])).startswith("config key 'experiment.methods[0]")
    assert schema_errors(methods_config([{"madx": {"rank": 4}}])).startswith("config key 'experiment.methods[0]")
    assert schema_errors(methods_config(["lora"])).startswith("config key 'experiment.methods[0]")
    assert schema_errors(methods_config([{"lora": {}}, {"madx": {"language_adapters": "tiny-lang", "alpha": 8}}])) == ""
