"""Dynamically binarized batches drawn inside the compiled training step.

The training step of the fast path receives a `DrawnBatch` (row indices into the resident data, the
epoch's stream key and the batch's first draw) instead of a binarized tensor, and gathers, draws and
compares in the first kernels of its own graph. The draws are those of `vaekit.data.iterate_batches`
(the counter-based stream of `vaekit.data.draws`), so both paths see the same batches (tested).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from vaekit.data.base import TensorData, bernoulli_of, binarize
from vaekit.data.draws import draw_key, int16_draws_torch


@dataclass(frozen=True)
class DrawnBatch:
    """A batch of dynamically binarized items, not drawn yet: rows `idx` of `source`, whose pixels take
    the epoch's stream `key` from draw `start` on. `binarized()` draws it eagerly."""
    source: torch.Tensor  # (N, *event) intensities in [0, 1], on the CPU
    idx: torch.Tensor     # (B,) int64
    key: torch.Tensor     # () int64
    start: torch.Tensor   # () int64

    def __len__(self) -> int:
        return len(self.idx)

    def binarized(self) -> torch.Tensor:
        return binarize(self.source.index_select(0, self.idx), int(self.key), int(self.start))


def gather_binarized(x: torch.Tensor, idx: torch.Tensor, key: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """`DrawnBatch(x, idx, key, start).binarized()` in torch ops that a compiled graph fuses with the
    gather and the comparison, on every core."""
    xb = x.index_select(0, idx)
    positions = start + torch.arange(xb.numel(), device=x.device).view(xb.shape)  # (B, *event)
    return bernoulli_of(xb, int16_draws_torch(key, positions))


def can_draw(data: object) -> bool:
    """Whether the step can draw this data's batches itself: dynamically binarized, in memory, on the CPU."""
    return isinstance(data, TensorData) and data.binarize == "dynamic" and data.x.device.type == "cpu"


def drawn_batches(data: TensorData, batch_size: int, generator: torch.Generator
                  ) -> Iterator[tuple[DrawnBatch, torch.Tensor | None]]:
    """The batches of `iterate_batches(data, batch_size, generator=generator)`, undrawn (`can_draw(data)`)."""
    order = torch.randperm(len(data), generator=generator)  # as iterate_batches draws it
    key, item = torch.tensor(draw_key(generator)), math.prod(data.x.shape[1:])
    labels = None if data.labels is None else data.labels.index_select(0, order)  # one gather an epoch
    for lo in range(0, len(data), batch_size):
        hi = min(lo + batch_size, len(data))
        yield DrawnBatch(data.x, order[lo:hi], key, torch.tensor(lo * item)), None if labels is None else labels[lo:hi]
