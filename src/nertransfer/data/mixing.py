"""Training on several languages at once: their union, and temperature-based language sampling (no torch).

A multi-source cell (a training set such as `hau+swa`, or a leave-one-out set) trains on the
union of its languages' training files. Plain concatenation is the default: every sentence of
every language once per epoch, a large language weighing as much as its size. Temperature
sampling, as in multilingual pretraining (XLM-R, mT5), draws each epoch's examples per language
with probability proportional to n_i ** alpha: alpha = 1 is the concatenation's proportions,
alpha -> 0 uniform over languages, so a small language is up-sampled (its sentences repeat) and a
large one down-sampled (a different part of it each epoch). The epoch keeps the union's size, so
the learning-rate schedule is the same as without sampling.

Every draw depends on the seed and the epoch only: a resumed fine-tune draws what an
uninterrupted one would have.
"""

from __future__ import annotations

import random
from typing import Sequence, TypeVar

T = TypeVar("T")


def union(per_language: Sequence[Sequence[T]]) -> tuple[list[T], list[int]]:
    """The items of every language, in the order given (the set's, which the config fixes in the dataset's
    language order), and for each item the index of its language."""
    items, sources = [], []
    for index, language_items in enumerate(per_language):
        items.extend(language_items)
        sources.extend([index] * len(language_items))
    return items, sources


def sampling_counts(sizes: Sequence[int], alpha: float) -> list[int]:
    """How many examples of each language one epoch draws: proportional to size ** alpha, summing to the total
    size (largest remainders get the rounding), and at least one of a language that has any."""
    total = sum(sizes)
    weights = [size**alpha if size else 0.0 for size in sizes]
    shares = [total * weight / sum(weights) for weight in weights]
    counts = [max(1, int(share)) if size else 0 for share, size in zip(shares, sizes, strict=True)]
    order = sorted(range(len(sizes)), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in order[: max(0, total - sum(counts))]:
        counts[i] += 1
    while sum(counts) > total:  # a language raised to one example takes it from the largest share
        counts[counts.index(max(counts))] -= 1
    return counts


def epoch_sample(sources: Sequence[int], alpha: float | None, seed: int, epoch: int) -> list[int]:
    """The item indices one epoch trains on: all of them once (alpha None: concatenation), or each language's
    `sampling_counts` share drawn without replacement from a seed-and-epoch shuffle of its items, cycling
    through them again when the share is larger than the language (up-sampling)."""
    if alpha is None:
        return list(range(len(sources)))
    members: dict[int, list[int]] = {}
    for index, source in enumerate(sources):
        members.setdefault(source, []).append(index)
    languages = sorted(members)
    counts = sampling_counts([len(members[language]) for language in languages], alpha)
    drawn = []
    for language, count in zip(languages, counts, strict=True):
        pool = members[language]
        rounds = []
        for turn in range(-(-count // len(pool))):
            order = list(pool)
            random.Random(f"sampling-{seed}-{epoch}-{language}-{turn}").shuffle(order)
            rounds.extend(order)
        drawn.extend(sorted(rounds[:count]))
    return drawn
