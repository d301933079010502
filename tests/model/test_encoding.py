"""Words to subword windows: one label position per word, long sentences split, nothing dropped."""

from __future__ import annotations

import random

import pytest

from conftest import TYPES
from nertransfer.model.encoding import encode, length_grouped_batches


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_checkpoint)


def covered_words(windows, sentence):
    return [w.first_word + i for w in windows if w.sentence == sentence for i in range(len(w.word_starts))]


def test_each_word_is_labelled_on_its_first_subword(tokenizer):
    words = ["Gwamnatin", "Najeriya", "ta", "ce"]
    (window,) = encode(tokenizer, [words], max_length=64)
    assert window.input_ids[0] == tokenizer.cls_token_id and window.input_ids[-1] == tokenizer.sep_token_id
    for index, start in enumerate(window.word_starts):
        assert window.input_ids[start] == tokenizer(words[index], add_special_tokens=False)["input_ids"][0]


def test_long_sentences_are_split_into_windows_not_truncated(tokenizer):
    words = ["Gwamnatin", "Najeriya", "ta", "ce", "za", "a", "biya"] * 30
    windows = encode(tokenizer, [words], max_length=16)
    assert len(windows) > 1
    assert all(len(w) <= 16 for w in windows)
    assert covered_words(windows, 0) == list(range(len(words)))


def test_a_word_with_no_subword_is_encoded_as_unknown_not_dropped(tiny_checkpoint):
    # Many real tokenizers (BERT's clean_text, XLM-R's sentencepiece normaliser) erase zero-width
    # characters, so a word made only of them has no subword at all. Give the tiny tokenizer
    # such a normaliser and check the word still gets a position (as <unk>).
    from tokenizers import Regex, normalizers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    tokenizer.backend_tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFKC(), normalizers.Replace(Regex("[\u200b-\u200f\ufe0f]"), "")])
    words = ["Najeriya", "\u200b\u200c", "ta"]
    assert 1 not in tokenizer([words], is_split_into_words=True).word_ids(0)  # the tokenizer drops it
    (window,) = encode(tokenizer, [words], max_length=64)
    assert len(window.word_starts) == 3
    assert window.input_ids[window.word_starts[1]] == tokenizer.unk_token_id


def test_an_overlong_word_keeps_its_first_pieces(tokenizer):
    windows = encode(tokenizer, [["a", "x" * 200, "b"]], max_length=8)
    assert covered_words(windows, 0) == [0, 1, 2]
    assert all(len(w) <= 8 for w in windows)


def test_length_grouped_batches_cover_every_index_once():
    lengths = [random.Random(i).randint(3, 90) for i in range(500)]
    for shuffle in (None, random.Random(0)):
        batches = length_grouped_batches(lengths, 32, shuffle)
        assert sorted(i for b in batches for i in b) == list(range(500))
    spread = max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in length_grouped_batches(lengths, 32))
    assert spread < 15  # sorted batches hold similar lengths


def test_prediction_batches_can_be_capped_in_padded_subwords():
    lengths = [random.Random(i).randint(3, 90) for i in range(500)] + [300]  # one window over the cap alone
    batches = length_grouped_batches(lengths, 64, max_tokens=1024)
    assert sorted(i for b in batches for i in b) == list(range(501))
    assert all(len(b) <= 64 for b in batches)
    assert all(len(b) * max(lengths[i] for i in b) <= 1024 for b in batches if len(b) > 1)
    assert [500] in batches  # too long for the cap: a batch of its own, not dropped
    assert len(batches) > len(length_grouped_batches(lengths, 64))  # long windows go fewer to a batch


def sentence_by_sentence(tokenizer, sentences):
    """The reference: each sentence tokenized on its own, its words' subwords in order."""
    result = []
    for words in sentences:
        encoded = tokenizer([list(words)], is_split_into_words=True, add_special_tokens=False)
        result.append([[i for i, w in zip(encoded["input_ids"][0], encoded.word_ids(0), strict=True) if w == word] or
                       [tokenizer.unk_token_id] for word in range(len(words))])
    return result


def test_tokenizing_each_distinct_word_once_gives_the_sentence_by_sentence_ids(tokenizer, mini_corpus):
    from nertransfer.data.conll import read_conll
    from nertransfer.model.encoding import _word_pieces

    sentences = [s.tokens for s in read_conll(mini_corpus / "hau" / "train.txt", TYPES)]
    assert len({w for s in sentences for w in s}) < sum(map(len, sentences))  # words do repeat
    assert _word_pieces(tokenizer, sentences) == sentence_by_sentence(tokenizer, sentences)


def test_encoding_many_sentences_does_not_warn_of_an_overlong_model_input(tiny_checkpoint, mini_corpus):
    # the distinct words go to the tokenizer as one sequence, longer than the model's 512 positions
    from transformers import AutoTokenizer

    from nertransfer.data.conll import read_conll

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    sentences = [s.tokens for s in read_conll(mini_corpus / "hau" / "train.txt", TYPES)]
    assert len({w for s in sentences for w in s}) > tokenizer.model_max_length
    encode(tokenizer, sentences, max_length=128)
    assert not tokenizer.deprecation_warnings.get("sequence-length-is-longer-than-the-specified-maximum")


def test_the_same_holds_for_a_pre_tokenizer_that_marks_only_the_first_word(tiny_checkpoint, mini_corpus):
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    from nertransfer.data.conll import read_conll
    from nertransfer.model.encoding import _word_pieces

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    sentences = [s.tokens for s in read_conll(mini_corpus / "luo" / "dev.txt", TYPES)]
    assert _word_pieces(tokenizer, sentences) == sentence_by_sentence(tokenizer, sentences)
