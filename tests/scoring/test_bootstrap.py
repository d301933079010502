"""The paired bootstrap: intervals and p-values that say what constructed data says they must."""

from __future__ import annotations

import random

import numpy as np
import pytest

from nertransfer.scoring.bootstrap import f1, paired_bootstrap, sentence_counts
from nertransfer.scoring.metrics import score

CATEGORIES = ["overall", "LOC", "PER"]


def sentences(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [[rng.choice(["O", "O", "B-PER", "I-PER", "B-LOC"]) for _ in range(rng.randint(3, 12))] for _ in range(count)]


def degraded(gold: list[list[str]], share: float, seed: int) -> list[list[str]]:
    """Predictions that get each tag wrong with probability `share`."""
    rng = random.Random(seed)
    return [[(rng.choice(["O", "B-PER", "B-LOC"]) if rng.random() < share else tag) for tag in tags] for tags in gold]


def test_counts_give_the_scorers_f1():
    gold = sentences(200, 0)
    predicted = degraded(gold, 0.3, 1)
    counts = sentence_counts(gold, predicted, CATEGORIES).sum(axis=0)
    scores = score(gold, predicted, types=["LOC", "PER"])
    assert f1(counts)[0] == pytest.approx(scores["f1"])
    assert f1(counts)[1] == pytest.approx(scores["per_category"]["LOC"]["f1"])


def test_identical_systems_differ_in_no_cell():
    gold = sentences(300, 0)
    seeds = [sentence_counts(gold, degraded(gold, 0.3, seed), CATEGORIES) for seed in (1, 2, 3)]
    for result in paired_bootstrap(seeds, seeds):
        assert result.difference == 0 and result.low <= 0 <= result.high and not result.significant and result.p == 1.0


def test_a_system_better_on_every_sentence_is_significant_in_every_cell():
    gold = sentences(300, 0)
    worse = [degraded(gold, 0.4, seed) for seed in (1, 2)]
    better = [[g if i % 2 == 0 else w for i, (g, w) in enumerate(zip(gold, pred, strict=True))]
              for pred in worse]  # right on half
    perfect = [sentence_counts(gold, gold, CATEGORIES)] * 2
    for system in (perfect, [sentence_counts(gold, pred, CATEGORIES) for pred in better]):
        results = paired_bootstrap(system, [sentence_counts(gold, pred, CATEGORIES) for pred in worse])
        assert all(r.significant and r.difference > 0 and r.low > 0 and r.p < 0.01 for r in results)


def test_a_noisy_small_difference_is_not_significant_and_the_interval_holds_the_observed_one():
    gold = sentences(40, 0)
    a = [sentence_counts(gold, degraded(gold, 0.30, seed), CATEGORIES) for seed in (1, 2)]
    b = [sentence_counts(gold, degraded(gold, 0.31, seed + 10), CATEGORIES) for seed in (1, 2)]
    overall = paired_bootstrap(a, b)[0]
    assert overall.low <= overall.difference <= overall.high and not overall.significant and overall.p > 0.05


def test_the_same_inputs_give_the_same_interval():
    gold = sentences(100, 0)
    a, b = ([sentence_counts(gold, degraded(gold, 0.2, 1), CATEGORIES)],
            [sentence_counts(gold, degraded(gold, 0.3, 2), CATEGORIES)])
    assert paired_bootstrap(a, b) == paired_bootstrap(a, b)
    assert paired_bootstrap(a, b) != paired_bootstrap(a, b, seed=1)


def test_systems_scored_on_other_sentences_are_refused():
    gold = sentences(10, 0)
    with pytest.raises(ValueError, match="differ in shape"):
        paired_bootstrap([sentence_counts(gold, gold, CATEGORIES)], [sentence_counts(gold[:5], gold[:5], CATEGORIES)])
    assert np.all(f1(np.zeros((2, 3), dtype=int)) == 0)
