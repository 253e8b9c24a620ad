"""Batches drawn inside the compiled step (vaekit.fast.drawn) are the batches of iterate_batches."""

from __future__ import annotations

import torch

from vaekit.data import TensorData, binarize, iterate_batches
from vaekit.fast.compiling import CompiledOrEager
from vaekit.fast.drawn import DrawnBatch, can_draw, drawn_batches, gather_binarized


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_the_torch_formula_and_the_eager_draws_agree_compiled_or_not():
    x = torch.rand(50, 1, 3, 3, generator=gen(5))
    idx, key, start = torch.randperm(50, generator=gen(6))[:20], torch.tensor(2**62 + 17), torch.tensor(9 * 7 + 2)
    want = binarize(x[idx], 2**62 + 17, 65)
    assert torch.equal(DrawnBatch(x, idx, key, start).binarized(), want)
    assert torch.equal(gather_binarized(x, idx, key, start), want)
    compiled = CompiledOrEager(gather_binarized)
    assert torch.equal(compiled(x, idx, key, start), want) and compiled.fn is not None
    assert 0.3 < want.mean().item() < 0.7  # draws, not a constant (x averages 0.5 over 180 pixels)


def test_drawn_batches_are_the_batches_of_iterate_batches():
    x = torch.rand(100, 1, 9, generator=gen(4))
    data = TensorData(x, torch.arange(100), binarize="dynamic")
    assert can_draw(data) and not can_draw(TensorData(x)) and not can_draw(object())
    drawn = list(drawn_batches(data, 15, gen(9)))
    plain = list(iterate_batches(data, 15, generator=gen(9)))
    assert [len(b) for b, _ in drawn] == [15] * 6 + [10]
    assert all(b.source is x for b, _ in drawn)
    for (b, yb), (p, yp) in zip(drawn, plain, strict=True):
        assert torch.equal(b.binarized(), p) and torch.equal(yb, yp)
