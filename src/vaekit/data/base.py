"""In-memory data sets and the batch iterator of the training loop.

MNIST-sized data is one resident tensor: each epoch draws a permutation and slices batches
with `index_select`, with no per-item Python in the hot loop. Data decoded lazily from disk goes
through a torch DataLoader over the same permutation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from vaekit.compiling import CompiledOrEager
from vaekit.data.draws import draw_key, int16_draws, int16_draws_torch
from vaekit.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


@dataclass
class TensorData:
    x: torch.Tensor                    # (N, *event_shape) float32; images (N, C, H, W) in [0, 1]
    labels: torch.Tensor | None = None  # (N,) int64 classes, (N, F) float32 factors, or None
    binarize: str = "none"             # "dynamic": iterate_batches draws a fresh Bernoulli sample
    stats: dict | None = None          # array data: {"mean": [...], "std": [...]} of the train split
    label_names: list[str] | None = None
    is_image: bool = True

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, n: int) -> TensorData:
        """The first n items."""
        return replace(self, x=self.x[:n], labels=None if self.labels is None else self.labels[:n])


def class_count(data: Any, n_classes: int = 0) -> int:
    """The number of classes of a conditional model trained on `data`: its labels must be integer
    classes (N,); n_classes > 0 is checked against them, 0 takes max label + 1."""
    labels = getattr(data, "labels", None)
    labels = None if labels is None else torch.as_tensor(labels)
    if labels is None or labels.dim() != 1 or labels.dtype.is_floating_point or len(labels) == 0:
        raise ConfigError("--conditional needs data with integer class labels (N,), e.g. mnist or a folder with "
                          "one subfolder per class; this data has "
                          + ("none" if labels is None else f"labels of shape {tuple(labels.shape)}, {labels.dtype}"))
    found = int(labels.max()) + 1
    if int(labels.min()) < 0 or (n_classes and found > n_classes):
        raise ConfigError(f"--n-classes {n_classes}: the labels run from {int(labels.min())} to {found - 1}")
    return n_classes or found


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} is not one of {', '.join(SPLITS)}")


@dataclass(frozen=True)
class DrawnBatch:
    """A batch of dynamically binarized items, not drawn yet: rows `idx` of `source`, whose pixels take
    the epoch's stream `key` from draw `start` on (`vaekit.data.draws`). `binarized()` draws it; the
    compiled training step draws it inside its own graph, the same numbers, so that gathering, drawing and
    comparing are fused into the step's first kernels rather than a pass of their own (docs/benchmarks.md)."""
    source: torch.Tensor  # (N, *event) intensities in [0, 1], on the CPU
    idx: torch.Tensor     # (B,) int64
    key: torch.Tensor     # () int64
    start: torch.Tensor   # () int64

    def __len__(self) -> int:
        return len(self.idx)

    def binarized(self) -> torch.Tensor:
        return _gather_below(self.source, self.idx, self.key, self.start)


def binarize(x: torch.Tensor, generator: torch.Generator | int | None = None, start: int = 0) -> torch.Tensor:
    """One Bernoulli draw per pixel with probability x (pixel intensities in [0, 1]).

    u < x with u ~ U(0, 1) is Bernoulli(x), and faster than torch.bernoulli on the CPU here. generator:
    a torch generator, or for CPU tensors an int key of the counter-based stream (`vaekit.data.draws`),
    whose draws from position `start` on give u (`uniforms_of`)."""
    if isinstance(generator, int):
        if x.device.type != "cpu":
            raise ValueError(f"binarize: a stream key draws on the CPU, and x is on {x.device}")
        return _below(x, int16_draws(generator, start, x.shape))
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.lt(u, x, out=u)


def uniforms_of(s: torch.Tensor) -> torch.Tensor:
    """U(0, 1) float32 on the midpoints of the 2^-16 grid from 16-bit integers s (`int16_draws`):
    (r + 1/2) 2^-16 with r = s + 2^15. P(u < x) is x 2^16 rounded to an integer (halves down) over
    2^16: within 2^-17 (7.6e-6) of x, and exact at 0 and 1."""
    # s 2^-16 and the offset are exact in float32 and so is their sum, on the 2^-17 grid of (0, 1);
    # copy=True: the scaling below works in place, and must not overwrite an s that is float32 already
    return s.to(torch.float32, copy=True).mul_(2.0**-16).add_(0.5 + 2.0**-17)


def _below(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """u < x in x's dtype for the uniforms u of s, written over u (fresh here): one pass instead of a
    bool tensor and a cast (measured 59 vs 157 us for a 128 x 784 batch)."""
    u = uniforms_of(s).to(x.dtype)
    return torch.lt(u, x, out=u)


def _gather_below(x: torch.Tensor, idx: torch.Tensor, key: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
    """`binarize(x[idx], key, start)` with key and start as int64 0-d tensors: the eager fallback of the
    compiled `gather_binarized`, its draws by numpy."""
    return binarize(x.index_select(0, idx), int(key), int(start))


def gather_binarized(x: torch.Tensor, idx: torch.Tensor, key: torch.Tensor, start: torch.Tensor
                     ) -> torch.Tensor:
    """`_gather_below` with the draws in torch ops, which a compiled kernel computes beside the gather
    and the comparison, on both cores. Measured in the training loop of the reference model, against
    numpy's SFC64 words and a compiled pass that read them: 375-400 -> 275-290 us a batch (mean over an
    epoch); 15 interleaved epochs 29.6k -> 30.8k images/s, faster in 12 of 15 (docs/benchmarks.md).
    The compiled training step calls it inside its own graph (`DrawnBatch`)."""
    xb = x.index_select(0, idx)
    positions = start + torch.arange(xb.numel(), device=x.device).view(xb.shape)  # (B, *event)
    return _below(xb, int16_draws_torch(key, positions))


@functools.cache
def _compiled_gather_below() -> CompiledOrEager:
    """One compiled `gather_binarized` for the process (made at its first use), so that a failed
    compilation warns once rather than every epoch; its fallback is the eager `_gather_below`."""
    return CompiledOrEager(gather_binarized, eager=_gather_below)


def fixed_binarization(data: Any, seed: int) -> Any:
    """Dynamically binarized data, frozen to one draw for a seed (for evaluation); else unchanged."""
    if not isinstance(data, TensorData) or data.binarize != "dynamic":
        return data  # lazily decoded data: a seeded generator in iterate_batches fixes its draw instead
    gen = torch.Generator().manual_seed(seed)
    return replace(data, x=binarize(data.x, gen), binarize="static")


def split_indices(n: int, val_fraction: float, seed: int, split: str) -> torch.Tensor:
    """A seeded permutation cut into train / val / test (val and test get val_fraction each)."""
    check_split(split)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(n * val_fraction))
    if n - 2 * n_val < 1:
        raise DataError(f"{n} items are too few to split into train/val/test with val_fraction {val_fraction} "
                        f"({n_val} val + {n_val} test leave no training item)")
    bounds = {"val": (0, n_val), "test": (n_val, 2 * n_val), "train": (2 * n_val, n)}
    lo, hi = bounds[split]
    return perm[lo:hi].sort().values


# Batches are gathered and binarized a span of several at a time: one index_select and one draw for
# ~4 MiB of rows rather than one of each per batch, then handed out as slices. Measured on the reference
# model (docs/benchmarks.md), 10 batches a span: 46.2k -> 47.1k images/s, faster in 8 of 11 interleaved
# epochs; 64 batches (25 MB, past the caches) were slower.
SPAN_BYTES = 4 * 2**20


def batches_per_span(data: TensorData, batch_size: int) -> int:
    """How many batches `iterate_batches` prepares at once: as many whole batches as fit in SPAN_BYTES
    (at least one). An item's draws depend on its position in the epoch only (`vaekit.data.draws`),
    so any grouping gives the same batches."""
    item = math.prod(data.x.shape[1:])
    return max(1, SPAN_BYTES // max(1, batch_size * item * data.x.element_size()))


def iterate_batches(data: Any, batch_size: int, *, generator: torch.Generator | None = None,
                    shuffle: bool = True, drop_last: bool = False, compile: bool = False, drawn: bool = False
                    ) -> Iterator[tuple[torch.Tensor | DrawnBatch, torch.Tensor | None]]:
    """Yield (x, labels-or-None) batches; a fresh Bernoulli draw per batch for dynamic binarization.
    In-memory batches are slices of a span prepared at once (`batches_per_span`). compile: gather and
    binarize each full span in one compiled pass (the training loop's --compile), with the same draws.
    drawn: dynamically binarized, shuffled in-memory data on the CPU comes as `DrawnBatch`es instead, for
    the compiled training step to draw (`binarized()` gives the batch the other paths give)."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else None
    on_cpu = not isinstance(data, TensorData) or data.x.device.type == "cpu"
    # on the CPU, the epoch's draws: the pixels of the i-th item of the epoch take draws i D, ..., i D + D - 1
    rng = draw_key(generator) if data.binarize == "dynamic" and on_cpu else generator
    if not isinstance(data, TensorData):  # the same draws as in memory: lazily decoded items are on the CPU
        yield from _loader_batches(data, batch_size, order, rng, drop_last)
        return
    stop = n - n % batch_size if drop_last else n
    if drawn and isinstance(rng, int) and order is not None:
        yield from _drawn_batches(data, batch_size, order, rng, stop)
        return
    span = batch_size * batches_per_span(data, batch_size)
    for lo in range(0, stop, span):
        hi = min(lo + span, stop)
        x, y = _span_items(data, order, lo, hi, rng, compiled=compile and hi - lo == span)
        for start in range(0, hi - lo, batch_size):
            yield x[start:start + batch_size], None if y is None else y[start:start + batch_size]


def _drawn_batches(data: TensorData, batch_size: int, order: torch.Tensor, key: int, stop: int
                   ) -> Iterator[tuple[DrawnBatch, torch.Tensor | None]]:
    item, key_t = math.prod(data.x.shape[1:]), torch.tensor(key)
    labels = None if data.labels is None else data.labels.index_select(0, order)  # one gather an epoch
    for lo in range(0, stop, batch_size):
        hi = min(lo + batch_size, stop)
        y = None if labels is None else labels[lo:hi]
        yield DrawnBatch(data.x, order[lo:hi], key_t, torch.tensor(lo * item)), y


def _span_items(data: TensorData, order: torch.Tensor | None, lo: int, hi: int,
                rng: torch.Generator | int | None, compiled: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Items lo:hi of the epoch's order (all of them in order when it is None), binarized when the data
    asks for it; compiled: through the compiled `gather_binarized`, which is made for one span's shape."""
    idx = None if order is None else order[lo:hi]
    take = (lambda t: t[lo:hi]) if idx is None else (lambda t: t.index_select(0, idx))
    y = None if data.labels is None else take(data.labels)
    start = lo * math.prod(data.x.shape[1:])  # the span's first draw
    if compiled and data.binarize == "dynamic" and isinstance(rng, int) and idx is not None:
        return _compiled_gather_below()(data.x, idx, torch.tensor(rng), torch.tensor(start)), y
    x = take(data.x)
    return (binarize(x, rng, start) if data.binarize == "dynamic" else x), y


def _loader_batches(data: Any, batch_size: int, order: torch.Tensor | None,
                    generator: torch.Generator | int | None, drop_last: bool
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    indices = order.tolist() if order is not None else list(range(len(data)))
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=indices, drop_last=drop_last,
                                         num_workers=getattr(data, "workers", 0), collate_fn=_collate)
    start = 0  # draws taken so far: as in memory, item i's pixels take draws i D on
    for x, y in loader:
        if data.binarize == "dynamic":
            x = binarize(x, generator, start)
        start += x.numel()
        yield x, y


def _collate(items: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, torch.Tensor | None]:
    x = torch.stack([it[0] for it in items])
    ys = [it[1] for it in items]
    return x, None if ys[0] is None else torch.as_tensor(ys)
