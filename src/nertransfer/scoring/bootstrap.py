"""Paired bootstrap over test sentences: is one system's F1 really above another's, or is it chance? (no torch)

The statistic is the effect tables' own: mean F1 over seeds of system A minus that of system B,
on one test set. Each resample draws the test set's sentences with replacement, the same draw
for every seed of both systems (paired: a hard sentence is hard for both, and its difficulty
cancels), and recomputes both means; the seeds are pooled into one distribution, as Koehn (2004)
and Berg-Kirkpatrick et al. (2012) resample a test set and Dror et al. (2018) advise for
several runs. From `resamples` draws (`RESAMPLES`, 1,000, by default, with a fixed random seed, `SEED`, so
tables are reproducible):

- the 95% confidence interval is the 2.5th and 97.5th percentile of the resampled differences;
- the two-sided p-value is 2 x the share of resampled differences on the other side of zero
  from the observed one (each count plus one, over resamples plus one, so never 0), at most 1.

Per-sentence entity counts are computed once per prediction file; a resample is then one
weighted sum (numpy), so a whole effect table takes seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from nertransfer.data.conll import iter_conll
from nertransfer.experiment.matrix import BOOTSTRAP_RESAMPLES
from nertransfer.scoring.metrics import conlleval_entities

RESAMPLES = BOOTSTRAP_RESAMPLES  # the default number of resamples (the config's default): for tables given none
SEED = 0  # the bootstrap's own random seed: the same tables on every run


def sentence_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], categories: Sequence[str]) -> np.ndarray:
    """(sentences, categories, 3) entity counts: correct, predicted, gold (conlleval convention; category 0 is overall)."""
    counts = np.zeros((len(gold), len(categories), 3), dtype=np.int64)
    column = {category: i for i, category in enumerate(categories)}
    gold_entities, predicted_entities = set(conlleval_entities(gold)), set(conlleval_entities(predicted))
    for entities, which in ((gold_entities & predicted_entities, 0), (predicted_entities, 1), (gold_entities, 2)):
        for sentence, kind, _, _ in entities:
            counts[sentence, 0, which] += 1
            if kind in column:
                counts[sentence, column[kind], which] += 1
    return counts


def prediction_counts(path: str | Path, categories: Sequence[str]) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The tokens of each sentence and its counts, from an evaluation's `token GOLD PRED` file."""
    sentences = list(iter_conll(path, n_columns=3))
    counts = sentence_counts([s.columns[0] for s in sentences], [s.columns[1] for s in sentences], categories)
    return [s.tokens for s in sentences], counts


def f1(counts: np.ndarray) -> np.ndarray:
    """F1 from counts summed over sentences (last axis: correct, predicted, gold): 2c / (p + g), 0 where both are 0."""
    correct, predicted, gold = counts[..., 0], counts[..., 1], counts[..., 2]
    total = predicted + gold
    return np.divide(2 * correct, total, out=np.zeros(total.shape, dtype=float), where=total > 0)


@dataclass(frozen=True)
class Difference:
    """The observed difference (x 100) with its 95% interval and two-sided p-value."""

    difference: float
    low: float
    high: float
    p: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@lru_cache(maxsize=64)  # one entry per test set: a table has a few dozen
def _resample_weights(sentences: int, resamples: int, seed: int) -> np.ndarray:
    """How often each sentence is drawn in each resample: (resamples, sentences). The same for every pair of
    systems on a test set, as a paired bootstrap needs, and worked out once per test set size."""
    draws = np.random.default_rng(seed).multinomial(sentences, np.full(sentences, 1 / sentences), size=resamples)
    return draws.astype(np.float64)


def paired_bootstrap(system: Sequence[np.ndarray], baseline: Sequence[np.ndarray], resamples: int = RESAMPLES,
                     seed: int = SEED) -> list[Difference]:
    """Per category: mean F1 over `system`'s seeds minus mean over `baseline`'s, with a paired bootstrap interval.

    Each array is one seed's (sentences, categories, 3) counts on the same test sentences.
    """
    a, b = np.stack(system), np.stack(baseline)  # (seeds, sentences, categories, 3)
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"the systems' counts differ in shape: {a.shape[1:]} and {b.shape[1:]}")
    sentences, categories = a.shape[1], a.shape[2]
    observed = 100 * (f1(a.sum(axis=1)).mean(axis=0) - f1(b.sum(axis=1)).mean(axis=0))
    weights = _resample_weights(sentences, resamples, seed)

    def resampled(counts: np.ndarray) -> np.ndarray:  # (resamples, seeds, categories, 3): one matrix product
        by_sentence = counts.transpose(1, 0, 2, 3).reshape(sentences, -1).astype(np.float64)
        return (weights @ by_sentence).reshape(resamples, counts.shape[0], categories, 3)

    differences = 100 * (f1(resampled(a)).mean(axis=1) - f1(resampled(b)).mean(axis=1))  # (resamples, categories)
    low, high = np.percentile(differences, [2.5, 97.5], axis=0)
    below = ((differences <= 0).sum(axis=0) + 1) / (resamples + 1)
    above = ((differences >= 0).sum(axis=0) + 1) / (resamples + 1)
    p = np.minimum(1.0, 2 * np.where(observed >= 0, below, above))
    return [Difference(*map(float, values)) for values in zip(observed, low, high, p, strict=True)]
