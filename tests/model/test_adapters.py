"""LoRA cells (the method axis): only the adapter and the head learn; what is saved is what peft loads."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import TINY_TRAINING, TYPES, fine_tune, stopped_after_first_epoch, train_command
from nertransfer.data.fingerprints import sha256_of

LORA = {"method": "lora", "rank": 4, "alpha": 8, "dropout": 0.0}


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_checkpoint, mini_corpus):
    output = tmp_path_factory.mktemp("lora") / "train"
    before = sha256_of(tiny_checkpoint)
    fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "adapter": LORA}, output,
              cell={"checkpoint": "tiny", "train_language": "hau", "seed": 1})
    assert sha256_of(tiny_checkpoint) == before  # the start's files are not written
    return output


def test_only_the_adapter_and_the_head_change_and_the_base_weights_stay_byte_identical(lora_run, tiny_checkpoint):
    from safetensors.torch import load_file

    saved = load_file(lora_run / "model" / "adapter_model.safetensors")
    assert saved and all("lora_" in name or "classifier" in name for name in saved)
    assert not any(name.endswith(("query.weight", "value.weight", "dense.weight")) and "lora" not in name for name in saved)
    from nertransfer.model.predict import load_model

    _, model = load_model(str(lora_run / "model"))
    start = load_file(tiny_checkpoint / "model.safetensors")
    base = {name.replace("base_model.model.", "").replace("base_layer.", ""): tensor
            for name, tensor in model.state_dict().items() if "lora_" not in name and "classifier" not in name}
    assert {name for name in base if name in start} == {name for name in start if not name.startswith("lm_head")}
    assert all(base[name].equal(start[name]) for name in base if name in start)  # bit for bit
    lora_b = [tensor for name, tensor in saved.items() if "lora_B" in name]
    assert any(tensor.abs().sum() > 0 for tensor in lora_b)  # B starts at zero: the adapter learned


def test_the_saved_adapter_loads_with_peft_s_own_from_pretrained_and_predicts_as_we_do(lora_run, mini_corpus):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForTokenClassification

    from nertransfer.model.predict import load_model

    folder = lora_run / "model"
    config = json.loads((folder / "adapter_config.json").read_text())
    labels = json.loads((folder / "labels.json").read_text())
    assert labels[0] == "O" and len(labels) == 9
    base = AutoModelForTokenClassification.from_pretrained(config["base_model_name_or_path"], num_labels=len(labels),
                                                           id2label=dict(enumerate(labels)))
    theirs = PeftModel.from_pretrained(base, folder).eval()
    tokenizer, ours = load_model(str(folder))
    inputs = tokenizer(["Musa ya je Kano"], return_tensors="pt")
    with torch.inference_mode():
        assert torch.equal(theirs(**inputs).logits, ours.eval()(**inputs).logits)
    card = (folder / "README.md").read_text()
    assert "library_name: peft" in card and "PeftModel.from_pretrained" in card
    recorded = json.loads((lora_run / "train_config.json").read_text())
    assert recorded["hyperparameters"]["adapter"] == LORA


def test_a_lora_cell_is_evaluated_through_the_same_command(lora_run, mini_corpus, tmp_path):
    from nertransfer.model.evaluate import evaluate

    metrics = evaluate(str(lora_run / "model"), str(mini_corpus / "luo" / "test.txt"), TYPES,
                       predictions_file=tmp_path / "p.conll", metrics_file=tmp_path / "m.json", max_length=64)
    assert 0 <= metrics["f1"] <= 1 and (tmp_path / "p.conll").exists()


def test_a_stopped_lora_fine_tune_saves_only_the_adapter_s_state_and_resumes_from_it(tmp_path, tiny_checkpoint,
                                                                                    mini_corpus):
    import torch

    hp = {**TINY_TRAINING, "epochs": 3, "adapter": LORA}
    args = train_command(tiny_checkpoint, mini_corpus, hp, tmp_path / "run")
    stopped_after_first_epoch(args)
    state = torch.load(tmp_path / "run.state" / "resume.pt", weights_only=False)
    assert all("lora_" in name or "classifier" in name for name in state["model"])
    resumed = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    assert "resuming after epoch" in resumed
    uninterrupted = fine_tune(tiny_checkpoint, mini_corpus, hp, tmp_path / "straight")
    assert json.loads((tmp_path / "run" / "dev_metrics.json").read_text()) == uninterrupted


# -- MAD-X: language adapters (masked LM, one per language) and a task adapter over them -------------------

LANGUAGE_ADAPTER = {"epochs": 2, "learning_rate": 1e-2, "batch_size": 8, "seed": 0, "lora": {"rank": 4, "alpha": 8}}
MADX = {"method": "madx", "rank": 4, "alpha": 8, "dropout": 0.0, "language_adapters": "tiny-lang"}


@pytest.fixture(scope="module")
def language_adapters(tmp_path_factory, tiny_checkpoint, mini_corpus):
    from nertransfer.model.adapt import adapt

    folder = tmp_path_factory.mktemp("language-adapters")
    for language in ("hau", "luo"):
        adapt(str(tiny_checkpoint), [str(mini_corpus / language / "train.txt")], TYPES, folder / language, LANGUAGE_ADAPTER)
    return folder


@pytest.fixture(scope="module")
def madx_run(tmp_path_factory, tiny_checkpoint, mini_corpus, language_adapters):
    output = tmp_path_factory.mktemp("madx") / "train"
    fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "adapter": MADX}, output,
              language_adapter=str(language_adapters / "hau"))
    return output


def test_a_language_adapter_is_a_peft_lora_adapter_trained_with_masked_lm_on_a_frozen_checkpoint(language_adapters,
                                                                                                 tiny_checkpoint):
    from safetensors.torch import load_file

    folder = language_adapters / "hau"
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["base_model_name_or_path"]) == (4, str(tiny_checkpoint))
    weights = load_file(folder / "adapter_model.safetensors")
    assert weights and all("lora_" in name for name in weights)
    assert any(tensor.abs().sum() > 0 for name, tensor in weights.items() if "lora_B" in name)  # it learned


def test_a_madx_task_adapter_trains_alone_over_a_frozen_language_adapter_and_a_frozen_base(madx_run, language_adapters,
                                                                                         tiny_checkpoint):
    from safetensors.torch import load_file

    from nertransfer.model.predict import load_model

    saved = load_file(madx_run / "model" / "adapter_model.safetensors")
    assert saved and all("lora_" in name or "classifier" in name for name in saved)
    assert json.loads((madx_run / "model" / "language_adapter.json").read_text()) == {
        "language_adapter": str(language_adapters / "hau")}
    _, model = load_model(str(madx_run / "model"))
    state = model.state_dict()
    language = load_file(language_adapters / "hau" / "adapter_model.safetensors")
    assert all(state[name.replace(".weight", ".language.weight")].equal(tensor) for name, tensor in language.items())
    start = load_file(tiny_checkpoint / "model.safetensors")
    base = {name.replace("base_model.model.", "").replace("base_layer.", ""): tensor for name, tensor in state.items()
            if "lora_" not in name and "classifier" not in name}
    assert all(base[name].equal(start[name]) for name in base if name in start)
    recorded = json.loads((madx_run / "train_config.json").read_text())
    assert "language_adapter_sha256" in recorded and recorded["hyperparameters"]["adapter"] == MADX
    assert "set_adapter" in (madx_run / "model" / "README.md").read_text()


def test_swapping_the_language_adapter_changes_the_predictions(madx_run, language_adapters):
    import torch

    from nertransfer.model.predict import load_model

    tokenizer, own = load_model(str(madx_run / "model"))
    _, swapped = load_model(str(madx_run / "model"), language_adapter=str(language_adapters / "luo"))
    inputs = tokenizer(["Musa ya je Kano ranar Litinin"], return_tensors="pt")
    with torch.inference_mode():
        assert not torch.allclose(own.eval()(**inputs).logits, swapped.eval()(**inputs).logits)


def test_a_madx_cell_evaluated_on_its_own_language_equals_the_run_that_never_swapped(madx_run, language_adapters,
                                                                                   mini_corpus, tmp_path):
    from nertransfer.model.evaluate import evaluate

    dev = json.loads((madx_run / "dev_metrics.json").read_text())  # scored in memory at the end of training
    metrics = evaluate(str(madx_run / "model"), str(mini_corpus / "hau" / "dev.txt"), TYPES,
                       predictions_file=tmp_path / "p.conll", metrics_file=tmp_path / "m.json", max_length=64,
                       language_adapter=str(language_adapters / "hau"))
    assert {key: metrics[key] for key in dev} == dev
    other = evaluate(str(madx_run / "model"), str(mini_corpus / "hau" / "dev.txt"), TYPES,
                     predictions_file=tmp_path / "q.conll", metrics_file=tmp_path / "n.json", max_length=64,
                     language_adapter=str(language_adapters / "luo"))
    assert other["language_adapter_path"].endswith("luo")
