"""Words to subword windows: one label position per word, long sentences split, nothing dropped."""

from __future__ import annotations

import random

import pytest

from conftest import DATA, TYPES
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


# -- on XLM-R's real vocabulary (multilingual-e5-small's tokenizer, the `e5` extra) -------------

@pytest.fixture(scope="module")
def xlmr(e5_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(e5_checkpoint)


def real_sentence(language: str, split: str, word: str):
    """The first sentence of a shipped MasakhaNER 1.0 file that holds `word`."""
    from nertransfer.data.conll import read_conll

    return next(s for s in read_conll(str(DATA / "masakhaner-1.0" / language / f"{split}.txt"), TYPES) if word in s.tokens)


def labels_of(tokenizer, sentence, max_length=128):
    """The pieces of each word, from its label position (its first subword) to the next word's, as training sees them."""
    windows = encode(tokenizer, [sentence.tokens], max_length)
    pieces = []
    for window in windows:
        ends = window.word_starts[1:] + [len(window) - 1]
        for start, end in zip(window.word_starts, ends, strict=True):
            pieces.append(tokenizer.convert_ids_to_tokens(window.input_ids[start:end]))
    return pieces


@pytest.mark.parametrize(("language", "word", "expected"), [
    ("swa", "Shabaab", ["▁", "Shabaab"]),  # XLM-R has "Shabaab" but not "▁Shabaab": a bare ▁ then the rest
    ("hau", "kusan", ["▁", "kusan"]),
])
def test_a_word_split_into_a_bare_space_piece_and_the_rest_is_labelled_on_the_bare_piece(xlmr, language, word, expected):
    """First-subword labelling, as run_ner does: the label sits on the bare '▁', the word's first subword."""
    sentence = real_sentence(language, "train", word)
    pieces = labels_of(xlmr, sentence)
    assert len(pieces) == len(sentence.tokens)
    assert pieces[sentence.tokens.index(word)] == expected


def test_a_word_that_is_all_unknown_keeps_its_position(xlmr):
    """Yorùbá 'ǹ' (n with a grave tone mark) is not in XLM-R's vocabulary: '▁' then one <unk>, labelled on '▁'."""
    sentence = real_sentence("yor", "train", "ǹ")
    pieces = labels_of(xlmr, sentence)
    assert pieces[sentence.tokens.index("ǹ")] == ["▁", "<unk>"]
    assert len(pieces) == len(sentence.tokens)


@pytest.mark.parametrize("language", ["amh", "yor", "ibo", "hau"])
def test_every_word_of_a_test_set_gets_one_label_and_its_pieces_spell_it(xlmr, language):
    """Ge'ez script (amh), tone marks as combining characters (yor 'ọjọ́' -> '▁', 'ọ', 'j', 'ọ', '́'),
    dotted vowels (ibo), hooked letters (hau): the pieces of every word spell the word as the
    tokenizer normalises it, so nothing (a tone mark, a syllable) is dropped, and every word has
    exactly one label position."""
    from nertransfer.data.conll import read_conll

    normalise = xlmr.backend_tokenizer.normalizer.normalize_str
    sentences = read_conll(str(DATA / "masakhaner-1.0" / language / "test.txt"), TYPES)
    windows = encode(xlmr, [s.tokens for s in sentences], 128)
    for index, sentence in enumerate(sentences):
        assert covered_words(windows, index) == list(range(len(sentence.tokens)))
    spelled = unknown = 0
    for sentence in sentences:
        for word, pieces in zip(sentence.tokens, labels_of(xlmr, sentence), strict=True):
            if "<unk>" in pieces:
                unknown += 1
                continue
            assert "".join(pieces).lstrip("▁") == normalise(word).strip(), (word, pieces)
            spelled += 1
    assert spelled > 20 * max(unknown, 1)


def test_windows_fill_the_512_positions_of_a_bert_model_and_run(xlmr, e5_checkpoint):
    """Real sentences run together past 510 subwords: windows of at most 512 (BERT's positions 0..511), every
    word once; the model takes a full 512-subword window, and 512 is what training allows (513 would fail)."""
    import torch
    from transformers import AutoModelForTokenClassification

    from nertransfer.data.conll import read_conll
    from nertransfer.model.train import subword_positions

    sentences = read_conll(str(DATA / "masakhaner-1.0" / "yor" / "test.txt"), TYPES)
    words = [word for sentence in sentences[:40] for word in sentence.tokens]
    assert len(xlmr(words, is_split_into_words=True)["input_ids"]) > 1100
    windows = encode(xlmr, [words], 512)
    assert len(windows) >= 3 and max(map(len, windows)) in range(500, 513)
    assert covered_words(windows, 0) == list(range(len(words)))
    model = AutoModelForTokenClassification.from_pretrained(e5_checkpoint, num_labels=9).eval()
    assert subword_positions(model) == 512
    longest = max(windows, key=len)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([longest.input_ids])).logits
    assert logits.shape == (1, len(longest), 9)


def test_the_tiny_recipe_also_holds_512_subwords(tiny_checkpoint):
    """The RoBERTa family numbers positions after its padding index: 514 position embeddings hold 512 subwords."""
    from transformers import AutoModelForTokenClassification

    from nertransfer.model.train import subword_positions

    model = AutoModelForTokenClassification.from_pretrained(tiny_checkpoint, num_labels=9)
    assert model.config.max_position_embeddings == 514 and subword_positions(model) == 512
