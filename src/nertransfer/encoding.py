"""From words to subword windows and back, so that every word gets exactly one label.

Labels go on the first subword of each word. A sentence longer than the model's maximum
length is split into windows at word boundaries, never truncated, so every token of a test file
gets a prediction. A word the tokenizer turns into no subword at all (for instance one made only
of zero-width characters) is encoded as the unknown token instead of vanishing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
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
    """Subword ids per word per sentence, with empty words replaced by the unknown token."""
    encoded = tokenizer([list(words) for words in sentences], is_split_into_words=True, add_special_tokens=False)
    result = []
    for index, words in enumerate(sentences):
        pieces: list[list[int]] = [[] for _ in words]
        for token_id, word in zip(encoded["input_ids"][index], encoded.word_ids(index)):
            if word is not None:
                pieces[word].append(token_id)
        for word_pieces in pieces:
            if not word_pieces:
                word_pieces.append(tokenizer.unk_token_id)
        result.append(pieces)
    return result


def encode(tokenizer, sentences: Sequence[Sequence[str]], max_length: int) -> list[Window]:
    """Encode sentences into windows of at most `max_length` subwords, special tokens included."""
    budget = max_length - 2  # room for <s> and </s>
    if budget < 1:
        raise ValueError(f"max_length {max_length} leaves no room for a word beside the special tokens")
    windows = []
    for index, pieces in enumerate(_word_pieces(tokenizer, sentences)):
        first, ids, starts = 0, [tokenizer.cls_token_id], []
        for word, word_pieces in enumerate(pieces):
            word_pieces = word_pieces[:budget]  # a single overlong word keeps its first `budget` pieces
            if starts and len(ids) - 1 + len(word_pieces) > budget:
                windows.append(Window(index, first, ids + [tokenizer.sep_token_id], starts))
                first, ids, starts = word, [tokenizer.cls_token_id], []
            starts.append(len(ids))
            ids.extend(word_pieces)
        windows.append(Window(index, first, ids + [tokenizer.sep_token_id], starts))
    return windows


def length_grouped_batches(lengths: Sequence[int], batch_size: int, shuffle: random.Random | None = None) -> list[list[int]]:
    """Indices in batches of similar length, so that padding stays small.

    Without `shuffle`, all indices sorted by length (for prediction). With it, as Hugging Face's
    LengthGroupedSampler does: a random permutation cut into mega-batches of 50 batches, each
    sorted by length, then the batches themselves shuffled, so that training batches vary from
    epoch to epoch yet stay tight.
    """
    order = list(range(len(lengths)))
    if shuffle is None:
        order.sort(key=lengths.__getitem__)
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    shuffle.shuffle(order)
    mega = 50 * batch_size
    batches = []
    for start in range(0, len(order), mega):
        group = sorted(order[start : start + mega], key=lengths.__getitem__, reverse=True)
        batches += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
    shuffle.shuffle(batches)
    return batches
