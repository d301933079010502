"""Training on several languages: the union of their sentences, and temperature-based language sampling."""

from __future__ import annotations

from collections import Counter

import pytest

from nertransfer.data.mixing import epoch_sample, sampling_counts, union


def test_the_union_is_every_language_s_items_once_in_the_set_s_order_with_their_language():
    items, sources = union([["h1", "h2", "h3"], ["s1"], []])  # hau, swa, yor
    assert items == ["h1", "h2", "h3", "s1"]
    assert sources == [0, 0, 0, 1]


def test_alpha_one_keeps_the_sizes_proportions_and_a_small_alpha_evens_the_languages_out():
    sizes = [9000, 1000]
    assert sampling_counts(sizes, 1.0) == [9000, 1000]
    even = sampling_counts(sizes, 0.01)
    assert sum(even) == 10000 and abs(even[0] - even[1]) < 300  # ~ equal shares
    share = 10000 * 9000**0.3 / (9000**0.3 + 1000**0.3)  # 9000**.3 : 1000**.3 = 1.93 : 1
    assert sampling_counts(sizes, 0.3) == pytest.approx([share, 10000 - share], abs=1)
    assert sum(sampling_counts([5, 3, 2], 0.5)) == 10
    assert sampling_counts([100000, 1], 0.0001)[1] >= 1 and sampling_counts([100000, 0], 0.5) == [100000, 0]


def test_concatenation_trains_every_item_once_per_epoch():
    assert epoch_sample([0, 0, 1, 1, 1], None, seed=1, epoch=0) == [0, 1, 2, 3, 4]


def test_sampling_up_samples_a_small_language_and_draws_a_fresh_part_of_a_large_one_each_epoch():
    sources = [0] * 90 + [1] * 10
    first, second = (epoch_sample(sources, 0.3, seed=1, epoch=epoch) for epoch in (0, 1))
    assert len(first) == len(second) == 100  # the epoch keeps the union's size: the schedule is unchanged
    languages = Counter(sources[i] for i in first)
    assert languages == dict(zip((0, 1), sampling_counts([90, 10], 0.3), strict=True))
    assert languages[1] > 10  # the small language's sentences repeat
    assert Counter(first)[95] >= 2 and all(Counter(first)[i] <= 1 for i in range(90))  # up-sampled vs drawn without repeats
    assert {i for i in first if i < 90} != {i for i in second if i < 90}  # another part of the large language
    assert epoch_sample(sources, 0.3, seed=1, epoch=0) == first  # seed and epoch fix it: a resumed run draws the same
    assert epoch_sample(sources, 0.3, seed=2, epoch=0) != first
