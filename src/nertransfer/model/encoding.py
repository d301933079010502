"""From words to subword windows and back, so that every word gets exactly one label.

Labels go on the first subword of each word. A sentence longer than the model's maximum
length is split into windows at word boundaries, never truncated, so every token of a test file
gets a prediction. A word the tokenizer turns into no subword at all (for instance one made only
of zero-width characters) is encoded as the unknown token instead of vanishing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Sequence

IGNORE = -100  # the label index PyTorch's cross-entropy skips


@dataclass(frozen=True)
class Window:
    """A model input: subword ids, and for each word of the window the position of its first subword."""

    sentence: int
    first_word: int
    input_ids: list[int]
    word_starts: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def _word_pieces(tokenizer, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """Subword ids per word per sentence, with empty words replaced by the unknown token.

    Each distinct word is tokenized once, all of them in one call: a test set has far fewer
    distinct words than words, and the tokenizer costs per word and per sequence (bench/README.md
    has the figures). The ids are the same: for pre-split words a fast tokenizer runs its
    normaliser, pre-tokenizer and model on each word alone, so a word's subwords do not depend on
    its neighbours (and only fast tokenizers give the `word_ids` this mapping needs).
    """
    distinct = list(dict.fromkeys(word for words in sentences for word in words))
    # verbose=False: the one long sequence of distinct words is never a model input (encode() cuts windows)
    encoded = tokenizer([distinct], is_split_into_words=True, add_special_tokens=False, verbose=False)
    pieces: list[list[int]] = [[] for _ in distinct]
    for token_id, word in zip(encoded["input_ids"][0], encoded.word_ids(0), strict=True):
        if word is not None:
            pieces[word].append(token_id)
    for word_pieces in pieces:
        if not word_pieces:
            word_pieces.append(tokenizer.unk_token_id)
    pieces_of = dict(zip(distinct, pieces, strict=True))
    return [[pieces_of[word] for word in words] for words in sentences]  # shared lists: read, never changed


def encode(tokenizer, sentences: Sequence[Sequence[str]], max_length: int) -> list[Window]:
    """Encode sentences into windows of at most `max_length` subwords, special tokens included."""
    budget = max_length - 2  # room for <s> and </s>
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for a word beside the special tokens")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id  # looked up once: each lookup goes through __getattr__
    windows = []
    for index, pieces in enumerate(_word_pieces(tokenizer, sentences)):
        if pieces and sum(map(len, pieces)) <= budget:  # the common case: the sentence is one window
            starts = list(accumulate(map(len, pieces[:-1]), initial=1))
            windows.append(Window(index, 0, [cls, *chain.from_iterable(pieces), sep], starts))
            continue
        first, ids, starts = 0, [cls], []
        for word, word_pieces in enumerate(pieces):
            word_pieces = word_pieces[:budget]  # a single overlong word keeps its first `budget` pieces
            if starts and len(ids) - 1 + len(word_pieces) > budget:
                windows.append(Window(index, first, ids + [sep], starts))
                first, ids, starts = word, [cls], []
            starts.append(len(ids))
            ids.extend(word_pieces)
        windows.append(Window(index, first, ids + [sep], starts))
    return windows


def length_grouped_batches(lengths: Sequence[int], batch_size: int, shuffle: random.Random | None = None,
                           max_tokens: int | None = None) -> list[list[int]]:
    """Indices in batches of similar length, so that padding stays small.

    Without `shuffle`, all indices sorted by length (for prediction), at most `batch_size` to a
    batch and, with `max_tokens`, at most that many subwords once padded (rows x the longest).
    With `shuffle`, as Hugging Face's LengthGroupedSampler does: a random permutation cut into
    mega-batches of 50 batches, each sorted by length, then the batches themselves shuffled, so
    that training batches vary from epoch to epoch yet stay tight.
    """
    order = list(range(len(lengths)))
    if shuffle is None:
        order.sort(key=lengths.__getitem__)
        batches, current = [], []
        for index in order:  # ascending: the window being added is the batch's longest
            full = len(current) == batch_size or (max_tokens and (len(current) + 1) * lengths[index] > max_tokens)
            if current and full:
                batches.append(current)
                current = []
            current.append(index)
        return batches + [current] if current else batches
    shuffle.shuffle(order)
    mega = 50 * batch_size
    batches = []
    for start in range(0, len(order), mega):
        group = sorted(order[start : start + mega], key=lengths.__getitem__, reverse=True)
        batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    shuffle.shuffle(batches)
    return batches
