"""Length-bucketed batches of padded integer items (TensorData.lengths): every item once, each batch cut to
its longest item, deterministic for a generator, and far less padding than random batches (measured on
synthetic lengths and on yelp)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import torch

from vaekit.config import DataConfig
from vaekit.data import TensorData, iterate_batches
from vaekit.data.base import BUCKET_WINDOW
from vaekit.errors import ConfigError
from vaekit.kinds import load_split


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def padded(n: int, t_max: int, seed: int = 0) -> TensorData:
    """Items whose every real step holds the item's index + 1 (so a batch shows which items it holds),
    of lengths 1..t_max, padded with 0."""
    lengths = torch.randint(1, t_max + 1, (n,), generator=gen(seed))
    steps = torch.arange(t_max)
    x = torch.where(steps < lengths[:, None], torch.arange(1, n + 1)[:, None], 0)  # (N, T_max)
    return TensorData(x, torch.arange(n) * 10, is_image=False, kind="texts", lengths=lengths)


def padding(batches) -> float:
    """The fraction of the batches' slots that are padding."""
    pad = sum(int((x == 0).sum()) for x, _ in batches)
    return pad / sum(x.numel() for x, _ in batches)


@pytest.mark.parametrize(("bs", "shuffle", "drop_last"), [(7, True, False), (7, False, False), (7, True, True),
                                                          (500, True, False), (1, True, False)])
def test_every_item_once_with_its_label_and_each_batch_cut_to_its_longest(bs, shuffle, drop_last):
    data = padded(403, 12)
    batches = list(iterate_batches(data, bs, generator=gen(3), shuffle=shuffle, drop_last=drop_last))
    n = 403 - 403 % bs if drop_last else 403
    assert sum(len(x) for x, _ in batches) == n
    assert [len(x) for x, _ in batches].count(bs) == n // bs
    ids = []
    for x, y in batches:
        i = x[:, 0] - 1  # the items' indices
        assert torch.equal(y, i * 10)  # labels stay with their items
        assert x.shape[1] == int(data.lengths[i].max())  # cut to the batch's longest item
        assert torch.equal(x, data.x[i, :x.shape[1]])  # and otherwise the items as stored
        ids += i.tolist()
    assert len(set(ids)) == n
    if not shuffle:
        assert ids == list(range(403))


def test_the_order_is_the_generators():
    data = padded(1000, 20)

    def first_items(seed):
        return [int(x[0, 0]) for x, _ in iterate_batches(data, 16, generator=gen(seed))]

    assert first_items(1) == first_items(1) and first_items(1) != first_items(2)


def test_batches_hold_items_of_about_one_length_but_from_anywhere():
    data = padded(64 * BUCKET_WINDOW * 2, 40)  # two windows of 50 batches of 64
    batches = list(iterate_batches(data, 64, generator=gen(0)))
    spreads = [int(data.lengths[x[:, 0] - 1].max() - data.lengths[x[:, 0] - 1].min()) for x, _ in batches]
    assert max(spreads) <= 3  # 3200 items of 40 lengths: ~80 a length, a batch spans one or two
    mean_index = torch.tensor([float((x[:, 0] - 1).float().mean()) for x, _ in batches])
    # items drawn from the whole data set: the batch means of indices scatter as random batches' do (std
    # 6400 / sqrt(12 * 64) = 231), not as windows of neighbouring indices sorted by length would (~1600)
    assert 150 < mean_index.std() < 320
    starts = torch.tensor([int(data.lengths[x[0, 0] - 1]) for x, _ in batches])
    assert (starts[1:] >= starts[:-1]).float().mean() < 0.75  # batch order shuffled, not sorted by length
    plain = [(x, y) for x, y in iterate_batches(dataclasses.replace(data, lengths=None), 64, generator=gen(0))]
    trimmed = [(x[:, :int((x != 0).sum(1).max())], y) for x, y in plain]  # random batches, cut to their longest
    assert padding(batches) < 0.03  # measured 0.022 (items sit 1-2 lengths apart)
    assert padding(trimmed) > 0.40  # measured 0.487 (lengths uniform in 1..40)
    assert padding(plain) > 0.45  # measured 0.490: all padded to 40


def test_take_keeps_the_lengths_and_binarization_is_refused():
    data = padded(50, 6)
    assert torch.equal(data.take(5).lengths, data.lengths[:5])
    with pytest.raises(ConfigError, match="integer items: they take no binarization"):
        next(iterate_batches(dataclasses.replace(data, binarize="dynamic"), 4))


YELP = Path(os.environ.get("VAEKIT_DATA", "/nonexistent")) / "yelp"


@pytest.mark.skipif(not (YELP / "train.0").is_file(), reason="yelp needs VAEKIT_DATA=DIR with DIR/yelp")
def test_yelp_padding_with_and_without_bucketing():
    train = load_split(DataConfig(dataset="yelp"), "train")
    bucketed = list(iterate_batches(train, 128, generator=gen(0)))
    plain = list(iterate_batches(dataclasses.replace(train, lengths=None), 128, generator=gen(0)))
    trimmed = [(x[:, :int((x != 0).sum(1).max())], y) for x, y in plain]
    assert sum(int((x != 0).sum()) for x, _ in bucketed) == int(train.lengths.sum()) == 1_255_678  # tokens + eos
    assert padding(bucketed) < 0.03  # measured 0.014
    assert padding(trimmed) > 0.30  # measured 0.38: random batches cut to their longest item
    assert padding(plain) > 0.70  # measured 0.76: every item at T_max = 41
