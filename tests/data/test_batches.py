"""iterate_batches, binarize, fixed_binarization, split_indices on in-memory TensorData."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaekit.data import TensorData, fixed_binarization, iterate_batches
from vaekit.data.base import binarize, split_indices
from vaekit.data.draws import draw_key, int16_draws
from vaekit.errors import ConfigError

N = 103


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def indexed(n: int = N, **kw) -> TensorData:
    """Items whose pixel values encode their index, so a batch reveals which items it holds."""
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, 2, 2).clone()
    return TensorData(x, torch.arange(n) * 10, **kw)


@pytest.mark.parametrize("bs", [1, 10, 103, 500])
def test_shuffled_epoch_yields_every_item_exactly_once(bs):
    batches = list(iterate_batches(indexed(), bs, generator=gen(0)))
    assert len(batches) == math.ceil(N / bs)
    assert [len(x) for x, _ in batches[:-1]] == [bs] * (len(batches) - 1)
    assert len(batches[-1][0]) == N - bs * (len(batches) - 1)  # the last, partial batch
    ids = torch.cat([x[:, 0, 0, 0] for x, _ in batches]).long()
    assert sorted(ids.tolist()) == list(range(N))
    labels = torch.cat([y for _, y in batches])
    assert torch.equal(labels, ids * 10)  # labels stay with their items
    for x, _ in batches:  # every pixel of an item kept
        assert torch.equal(x, x[:, :, :1, :1].expand_as(x))
    if 1 < bs < N:
        assert ids.tolist() != list(range(N))  # shuffled


def test_shuffled_order_is_the_generators_permutation():
    ids = torch.cat([x[:, 0, 0, 0] for x, _ in iterate_batches(indexed(), 16, generator=gen(5))]).long()
    assert torch.equal(ids, torch.randperm(N, generator=gen(5)))


def test_unshuffled_is_in_order_with_a_partial_last_batch():
    batches = list(iterate_batches(indexed(), 25, shuffle=False))
    assert [len(x) for x, _ in batches] == [25, 25, 25, 25, 3]
    assert torch.cat([x[:, 0, 0, 0] for x, _ in batches]).long().tolist() == list(range(N))
    assert torch.cat([y for _, y in batches]).tolist() == [10 * i for i in range(N)]


@pytest.mark.parametrize("shuffle", [True, False])
def test_drop_last_drops_only_the_partial_batch(shuffle):
    batches = list(iterate_batches(indexed(), 25, generator=gen(1), shuffle=shuffle, drop_last=True))
    assert [len(x) for x, _ in batches] == [25] * 4
    ids = torch.cat([x[:, 0, 0, 0] for x, _ in batches]).long()
    assert len(set(ids.tolist())) == 100
    if shuffle:
        assert torch.equal(ids, torch.randperm(N, generator=gen(1))[:100])
    else:
        assert ids.tolist() == list(range(100))
    assert len(list(iterate_batches(indexed(), 103, drop_last=True))) == 1
    assert list(iterate_batches(indexed(), 104, drop_last=True)) == []


def test_no_labels_gives_none():
    data = TensorData(torch.zeros(5, 3))
    assert all(y is None for _, y in iterate_batches(data, 2, generator=gen(0)))
    assert all(y is None for _, y in iterate_batches(data, 2, shuffle=False))


def test_same_generator_seed_same_order_other_seed_other_order():
    run = lambda s: torch.cat([x[:, 0, 0, 0] for x, _ in iterate_batches(indexed(), 10, generator=gen(s))])  # noqa: E731
    assert torch.equal(run(3), run(3)) and not torch.equal(run(3), run(4))


def test_successive_epochs_from_one_generator_differ():
    g = gen(0)
    e1 = torch.cat([x[:, 0, 0, 0] for x, _ in iterate_batches(indexed(), 10, generator=g)])
    e2 = torch.cat([x[:, 0, 0, 0] for x, _ in iterate_batches(indexed(), 10, generator=g)])
    assert not torch.equal(e1, e2) and sorted(e1.tolist()) == sorted(e2.tolist())


def gray(n: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=gen(1000 + seed))


def test_dynamic_binarization_is_seeded_by_the_generator():
    data = TensorData(gray(), torch.arange(64), binarize="dynamic")
    run = lambda s: [(x, y) for x, y in iterate_batches(data, 16, generator=gen(s))]  # noqa: E731
    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(xa, xb) and torch.equal(ya, yb) for (xa, ya), (xb, yb) in zip(a, b, strict=True))
    assert not all(torch.equal(xa, xc) for (xa, _), (xc, _) in zip(a, c, strict=True))


def test_dynamic_binarization_is_a_bernoulli_draw_of_the_batch_items():
    x = gray()
    data = TensorData(x, torch.arange(64), binarize="dynamic")
    for xb, yb in iterate_batches(data, 16, generator=gen(2)):
        assert set(torch.unique(xb).tolist()) <= {0.0, 1.0}
        src = x[yb]
        assert ((xb == 1) <= (src > 0)).all() and ((xb == 0) <= (src < 1)).all()
    # reproduce the draw independently: permutation first, then the stream's key by one draw of the torch
    # generator; the i-th item of the epoch takes draws i D, ..., i D + D - 1 of SplitMix64(key) read as
    # four signed 16-bit integers s an output (test_draws.py), r = s + 2^15, u = (r + 1/2) 2^-16, u < x
    from tests.data.test_draws import reference_draws

    g = gen(2)
    order = torch.randperm(64, generator=g)
    key = int(torch.randint(0, 2**63 - 1, (), generator=g))
    expect = []
    for start in range(0, 64, 16):
        sel = x[order[start:start + 16]]
        r = np.array(reference_draws(key, start * 64, sel.numel()), dtype=np.float64) + 2**15
        u = ((r + 0.5) / 2**16).astype(np.float32)
        expect.append((torch.from_numpy(u).view(sel.shape) < sel).float())
    got = [xb for xb, _ in iterate_batches(data, 16, generator=gen(2))]
    assert all(torch.equal(a, b) for a, b in zip(got, expect, strict=True))


@pytest.mark.parametrize("pixels", [64, 9])
def test_batches_take_the_draws_of_their_items_positions_in_the_epoch(pixels):
    x = torch.rand(100, 1, pixels, generator=gen(4))
    data = TensorData(x, torch.arange(100), binarize="dynamic")
    g = gen(9)
    order = torch.randperm(100, generator=g)
    key = draw_key(g)
    # batch by batch from the item's position in the epoch; 15 x 9 pixels start batches mid-word
    expect = [(binarize(x[order[s:s + 15]], key, s * pixels), order[s:s + 15]) for s in range(0, 100, 15)]
    assert_same_batches(list(iterate_batches(data, 15, generator=gen(9))), expect)
    # one batch of all 100 items: the same numbers, item by item
    (whole, _), = list(iterate_batches(data, 100, generator=gen(9)))
    assert torch.equal(whole[:15], expect[0][0]) and torch.equal(whole[90:], expect[-1][0])


def assert_same_batches(got: list, expect: list) -> None:
    assert [len(b) for b, _ in got] == [len(b) for b, _ in expect]
    assert all(torch.equal(a, b) and torch.equal(ya, yb) for (a, ya), (b, yb) in zip(got, expect, strict=True))


def test_dynamic_binarization_is_fresh_per_batch_and_epoch():
    x = torch.full((40, 1, 8, 8), 0.5)
    data = TensorData(x, binarize="dynamic")
    g = gen(0)
    e1 = [b for b, _ in iterate_batches(data, 10, generator=g, shuffle=False)]
    e2 = [b for b, _ in iterate_batches(data, 10, generator=g, shuffle=False)]
    assert not torch.equal(e1[0], e1[1])  # identical gray items, different draws per batch
    assert not torch.equal(torch.cat(e1), torch.cat(e2))  # a new draw each epoch
    assert torch.equal(data.x, x)  # the stored grayscale data is untouched


def test_dynamic_binarization_mean_matches_the_gray_mean():
    x = gray(256)
    data = TensorData(x, binarize="dynamic")
    draws = torch.cat([b for _ in range(20) for b, _ in iterate_batches(data, 64, generator=gen(_), shuffle=False)])
    # 20 epochs x 16,384 pixels: the mean of Bernoulli(p) draws is within 4 sigma (sigma <= 0.5/sqrt(n))
    n = draws.numel()
    assert abs(draws.mean().item() - x.mean().item()) < 4 * 0.5 / math.sqrt(n)
    per_pixel = draws.view(20, 256, 1, 8, 8).mean(0)  # each pixel's frequency ~ its gray level
    assert (per_pixel - x).abs().mean().item() < 0.12  # E|mean of 20 Bernoulli(p) - p| <= 0.5 / sqrt(20) ~ 0.11
    assert torch.corrcoef(torch.stack([per_pixel.flatten(), x.flatten()]))[0, 1] > 0.8


def test_no_binarization_passes_values_through():
    x = gray()
    batches = [b for b, _ in iterate_batches(TensorData(x), 16, shuffle=False)]
    assert torch.equal(torch.cat(batches), x)
    static = TensorData((x > 0.5).float(), binarize="static")
    assert torch.equal(torch.cat([b for b, _ in iterate_batches(static, 16, shuffle=False)]), static.x)


def test_binarize_is_u_less_than_x():
    x = torch.tensor([0.0, 1.0, 0.3, 0.7] * 1000)
    b = binarize(x, gen(0))
    assert torch.equal(b, (torch.rand(x.shape, generator=gen(0)) < x).float())
    assert (b[0::4] == 0).all() and (b[1::4] == 1).all()
    assert b[2::4].mean().item() == pytest.approx(0.3, abs=0.06)
    assert b[3::4].mean().item() == pytest.approx(0.7, abs=0.06)


def test_fixed_binarization_is_deterministic_per_seed():
    data = TensorData(gray(), torch.arange(64), binarize="dynamic")
    a, b, c = fixed_binarization(data, 3), fixed_binarization(data, 3), fixed_binarization(data, 4)
    assert torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
    assert a.binarize == "static" and set(torch.unique(a.x).tolist()) == {0.0, 1.0}
    assert torch.equal(a.x, binarize(data.x, gen(3)))
    assert torch.equal(a.labels, data.labels) and torch.equal(data.x, gray())  # the input is not modified
    # frozen: iterating twice gives the same values
    e1 = torch.cat([x for x, _ in iterate_batches(a, 16, shuffle=False)])
    assert torch.equal(e1, a.x)


@pytest.mark.parametrize("mode", ["none", "static"])
def test_fixed_binarization_is_a_no_op_for_non_dynamic_data(mode):
    data = TensorData(gray(), binarize=mode)
    assert fixed_binarization(data, 0) is data
    assert fixed_binarization("not tensor data", 0) == "not tensor data"


def test_take_and_event_shape():
    d = indexed()
    t = d.take(7)
    assert len(t) == 7 and torch.equal(t.labels, torch.arange(7) * 10) and t.event_shape == (1, 2, 2)
    assert torch.equal(t.x[:, 0, 0, 0], torch.arange(7, dtype=torch.float32))


@pytest.mark.parametrize("n, frac", [(100, 0.1), (10, 0.1), (7, 0.2), (1000, 0.3)])
def test_split_indices_partition_the_items(n, frac):
    parts = {s: split_indices(n, frac, 0, s) for s in ("train", "val", "test")}
    n_val = max(1, round(n * frac))
    assert (len(parts["val"]), len(parts["test"]), len(parts["train"])) == (n_val, n_val, n - 2 * n_val)
    assert sorted(torch.cat(list(parts.values())).tolist()) == list(range(n))
    for p in parts.values():
        assert torch.equal(p, p.sort().values)
    assert torch.equal(split_indices(n, frac, 0, "val"), parts["val"])
    if n >= 100:
        assert not torch.equal(split_indices(n, frac, 1, "val"), parts["val"])


def test_split_indices_rejects_unknown_splits():
    with pytest.raises(ConfigError, match="validation"):
        split_indices(10, 0.1, 0, "validation")


def test_uniforms_lie_on_the_midpoints_of_the_2_to_minus_16_grid_and_are_uniform():
    from vaekit.data.base import uniforms_of

    u = uniforms_of(int16_draws(0, 1, (3, 100_001)))  # not a multiple of 4 draws, nor from a word's start
    s = torch.tensor([-2.0**15, 0.0, 2.0**15 - 1])  # integers given as float32: read, not overwritten
    assert uniforms_of(s).tolist() == [2**-17, 0.5 + 2**-17, 1 - 2**-17] and s.tolist() == [-2**15, 0, 2**15 - 1]
    assert u.dtype == torch.float32 and u.shape == (3, 100_001)
    assert u.min() == 2**-17 and u.max() == 1 - 2**-17  # 300k draws of 65536 values: both ends appear
    r = u.double() * 2**16 - 0.5  # the integers r of (r + 1/2) 2^-16
    assert torch.equal(r, r.round())
    # 300k draws: mean 1/2 and variance 1/12 within ~5 sigma; every tenth of [0, 1) holds ~10%
    assert abs(u.double().mean().item() - 0.5) < 5 * (1 / 12 / u.numel()) ** 0.5
    assert abs(u.double().var().item() - 1 / 12) < 2e-3
    counts = torch.histc(u, bins=10, min=0, max=1) / u.numel()
    assert (counts - 0.1).abs().max() < 0.003
    # each of the 65536 values equally likely: a chi-square over 256 bins of 256 values each
    hist = torch.bincount(r.long().flatten() // 256, minlength=256).double()
    expected = u.numel() / 256
    assert ((hist - expected) ** 2 / expected).sum() < 256 + 5 * (2 * 255) ** 0.5


def test_binarization_of_0_and_1_is_exact_and_of_a_half_unbiased():
    from vaekit.data.base import binarize

    x = torch.tensor([0.0, 1.0, 0.5, 2**-17, 1 - 2**-16]).repeat(200_000, 1)
    b = binarize(x, 3)  # the stream of key 3
    assert b[:, 0].sum() == 0 and b[:, 1].sum() == len(b)
    p = b.double().mean(0)
    assert abs(p[2] - 0.5) < 5 * (0.25 / len(b)) ** 0.5
    # below the grid's first midpoint: never; just under 1: 65535 of 65536 values
    assert p[3] == 0 and b[:, 4].sum() >= len(b) - 20


def test_a_stream_key_binarizes_on_the_cpu_only():
    with pytest.raises(ValueError, match="stream key draws on the CPU, and x is on meta"):
        binarize(torch.rand(4, 4, device="meta"), 3)


def test_random_items_are_a_seeded_sorted_draw_from_every_part_of_the_data():
    from vaekit.data import SequenceData, random_items

    # classes in blocks, as Yelp's files list them: the first 50 items are one class only
    data = TensorData(torch.arange(200.0).view(100, 2), torch.arange(100) // 50, binarize="none", is_image=False)
    sub = random_items(data, 20, seed=3)
    rows = sub.x[:, 0].long() // 2  # each item's position
    assert len(sub) == 20 and len(set(rows.tolist())) == 20 and bool((rows.diff() > 0).all())
    assert set(sub.labels.tolist()) == {0, 1}
    torch.testing.assert_close(sub.labels, rows // 50)
    assert torch.equal(random_items(data, 20, seed=3).x, sub.x)
    assert not torch.equal(random_items(data, 20, seed=4).x, sub.x)
    assert random_items(data, None, seed=3) is data and random_items(data, 500, seed=3) is data
    seqs = SequenceData([torch.full((i % 5 + 1, 1), float(i)) for i in range(100)], torch.arange(100) // 50)
    picked = random_items(seqs, 20, seed=3)
    assert [int(it[0, 0]) for it in picked.items] == rows.tolist()
    torch.testing.assert_close(picked.labels, sub.labels)
    with pytest.raises(ConfigError, match="--limit 0"):
        random_items(data, 0, seed=3)
