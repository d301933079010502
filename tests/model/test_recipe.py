"""The offline recipe: a real tokenizer and model that load with the Auto classes alone."""

from __future__ import annotations

import json


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
