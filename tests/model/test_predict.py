"""Prediction: batches of windows to one tag per word, the same whatever the batching."""

from __future__ import annotations

from conftest import TYPES


def test_capping_cpu_batches_in_subwords_changes_no_prediction(tiny_checkpoint, mini_corpus, monkeypatch):
    from nertransfer.data.conll import bio_labels, read_conll
    from nertransfer.model import predict
    from nertransfer.model.encoding import encode, length_grouped_batches

    tokenizer, model = predict.load_model(str(tiny_checkpoint), bio_labels(TYPES))
    sentences = [s.tokens for s in read_conll(mini_corpus / "hau" / "train.txt", TYPES)]
    lengths = [len(w) for w in encode(tokenizer, sentences, 128)]
    assert (length_grouped_batches(lengths, 64, max_tokens=predict.CPU_BATCH_TOKENS)
            != length_grouped_batches(lengths, 64))  # the cap does split these batches
    capped = predict.predict_tags(model, tokenizer, sentences, max_length=128, batch_size=64)
    monkeypatch.setattr(predict, "CPU_BATCH_TOKENS", 10**9)  # batches of 64 windows, whatever their length
    uncapped = predict.predict_tags(model, tokenizer, sentences, max_length=128, batch_size=64)
    assert [len(tags) for tags in capped] == [len(words) for words in sentences]
    assert capped == uncapped
    assert len({tag for tags in capped for tag in tags}) > 1  # a fresh head still predicts more than one tag
