"""Collation: windows into padded, fixed-shape or packed batches that give the model the same inputs."""

from __future__ import annotations

import json

import pytest

from conftest import TINY_TRAINING, TYPES, fine_tune


def windows_and_labels():
    from nertransfer.model.encoding import Window

    return [Window(0, 0, [0, 11, 12, 13, 2], [1, 3]), Window(1, 0, [0, 21, 2], [1])], [[5, 6], [7]]


def test_a_batch_is_padded_to_its_longest_window_with_labels_on_first_subwords_only():
    from nertransfer.model.collation import collate
    from nertransfer.model.encoding import IGNORE

    windows, labels = windows_and_labels()
    batch = collate(windows, pad_id=1, labels=labels)
    assert batch["input_ids"].tolist() == [[0, 11, 12, 13, 2], [0, 21, 2, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 5, IGNORE, 6, IGNORE], [IGNORE, 7, IGNORE, IGNORE, IGNORE]]


def test_a_fixed_shape_batch_adds_empty_unlabelled_rows_and_pads_to_a_bucket_width():
    from nertransfer.model.collation import BUCKET, bucket_width, collate
    from nertransfer.model.encoding import IGNORE

    assert [bucket_width(n, 128) for n in (1, BUCKET, BUCKET + 1, 127, 128)] == [BUCKET, BUCKET, 2 * BUCKET, 128, 128]
    assert bucket_width(70, 100) == 96 and bucket_width(99, 100) == 100  # never past the window length
    windows, labels = windows_and_labels()
    batch = collate(windows, pad_id=1, labels=labels, width=8, rows=4)
    assert {key: tuple(value.shape) for key, value in batch.items()} == {key: (4, 8) for key in batch}
    assert batch["input_ids"][2:].tolist() == [[1] * 8] * 2
    assert batch["attention_mask"][2:].tolist() == [[1] + [0] * 7] * 2  # one position, so attention is defined
    assert batch["labels"][2:].tolist() == [[IGNORE] * 8] * 2  # nothing added to the loss


@pytest.fixture(scope="module")
def model_and_windows(tiny_checkpoint, mini_corpus):
    from nertransfer.data.conll import bio_labels, read_conll
    from nertransfer.model.encoding import encode
    from nertransfer.model.predict import load_model

    tokenizer, model = load_model(str(tiny_checkpoint), bio_labels(TYPES))
    sentences = [s.tokens for s in read_conll(mini_corpus / "hau" / "train.txt", TYPES)]
    return tokenizer, model.eval(), sentences, encode(tokenizer, sentences[:6], 64)


def per_window(packed_logits, windows):
    """The packed row cut back into one slice per window."""
    start = 0
    for window in windows:
        yield packed_logits[0, start : start + len(window)]
        start += len(window)


def test_packed_windows_give_the_logits_of_padded_ones_only_with_positions_from_padding_id_plus_one(model_and_windows):
    import torch

    from nertransfer.model.collation import collate, collate_packed

    tokenizer, model, _, windows = model_and_windows
    pad = tokenizer.pad_token_id
    with torch.no_grad():
        padded = model(**collate(windows, pad)).logits
        packed = collate_packed(windows, pad)
        assert packed["input_ids"].shape == (1, sum(len(w) for w in windows))  # no padding at all
        same = list(per_window(model(**packed).logits, windows))
        packed["position_ids"] = packed["position_ids"] - (pad + 1)  # numbered from 0, as generic packing collators do
        shifted = list(per_window(model(**packed).logits, windows))
    for row, window in enumerate(windows):
        torch.testing.assert_close(same[row], padded[row, : len(window)], rtol=0, atol=1e-5)
    assert max((s - padded[r, : len(w)]).abs().max().item() for r, (s, w) in enumerate(zip(shifted, windows, strict=True))) > 1e-2


def test_fixed_shape_batches_predict_the_same_tags_as_dynamically_padded_ones(model_and_windows):
    from nertransfer.model.predict import predict_tags

    tokenizer, model, sentences, _ = model_and_windows
    dynamic = predict_tags(model, tokenizer, sentences, max_length=64, batch_size=16)
    static = predict_tags(model, tokenizer, sentences, max_length=64, batch_size=16, static_shapes=True)
    assert static == dynamic and len({tag for tags in static for tag in tags}) > 1


def test_cuda_graphs_on_a_cpu_are_noted_and_train_the_model_static_shapes_train(tmp_path, tiny_checkpoint, mini_corpus, capfd):
    static = fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "static_shapes": True}, tmp_path / "static",
                       model_output=tmp_path / "static-model")
    assert "cuda_graphs" not in capfd.readouterr().out
    graphs = fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "cuda_graphs": True}, tmp_path / "graphs",
                       model_output=tmp_path / "graphs-model")
    assert "cuda_graphs: no GPU here" in capfd.readouterr().out
    assert graphs == static
    assert ((tmp_path / "graphs-model" / "model.safetensors").read_bytes()
            == (tmp_path / "static-model" / "model.safetensors").read_bytes())
    recorded = json.loads((tmp_path / "graphs" / "train_config.json").read_text())["hyperparameters"]
    assert recorded["cuda_graphs"] is True and "static_shapes" not in recorded  # a default left out, as in the config


def test_settings_left_at_their_defaults_are_not_recorded():
    from nertransfer.model.train import TrainingSettings

    assert not {"static_shapes", "cuda_graphs", "train_size"} & set(TrainingSettings.from_mapping(TINY_TRAINING).record())
