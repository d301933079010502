"""Language-adaptive pretraining: masked-LM training continued on one language's text."""

from __future__ import annotations

import json

from conftest import TYPES
from nertransfer.model.adapt import adapt, text_blocks


def test_text_is_cut_into_blocks_without_losing_any_subword(tiny_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    sentences = [["Musa", "ya", "je", "Kano"]] * 30
    blocks = text_blocks(tokenizer, sentences, block_size=16)
    assert all(len(b) <= 16 and b[0] == tokenizer.cls_token_id and b[-1] == tokenizer.sep_token_id for b in blocks)
    per_sentence = len(tokenizer(" ".join(sentences[0]), add_special_tokens=False)["input_ids"]) + 1
    assert sum(len(b) - 2 for b in blocks) == 30 * per_sentence  # nothing truncated


def test_adaptation_lowers_the_masked_lm_loss_and_saves_a_checkpoint_that_fine_tunes(tmp_path, tiny_checkpoint, mini_corpus):
    from nertransfer.model.predict import load_model

    history = adapt(str(tiny_checkpoint), [str(mini_corpus / "hau" / "train.txt")], TYPES, tmp_path / "adapted",
                    {"epochs": 4, "learning_rate": 2e-3, "batch_size": 8})
    assert history[-1]["mlm_loss"] < history[0]["mlm_loss"]
    summary = json.loads((tmp_path / "adapted" / "adaptation.json").read_text())
    assert summary["sentences"] == 80 and summary["adapted_from"] == str(tiny_checkpoint)
    tokenizer, model = load_model(str(tmp_path / "adapted"), ["O", "B-PER", "I-PER"])
    assert model.config.num_labels == 3
