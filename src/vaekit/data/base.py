"""In-memory data sets, binarization and the batch iterator.

MNIST-sized data is one resident tensor: each epoch draws a permutation and gathers batches
with `index_select`, with no per-item Python in the hot loop. Data decoded lazily from disk goes
through a torch DataLoader over the same permutation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import torch

from vaekit.data.draws import draw_key, int16_draws
from vaekit.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


@dataclass
class TensorData:
    x: torch.Tensor                    # (N, *event_shape): images (N, C, H, W) float32 in [0, 1]; sentences (N, T) ids
    labels: torch.Tensor | None = None  # (N,) int64 classes, (N, F) float32 factors, or None
    binarize: str = "none"             # "dynamic": iterate_batches draws a fresh Bernoulli sample
    stats: dict | None = None          # of the train split: {"mean": [...], "std": [...]}, {"vocabulary": [...]}
    label_names: list[str] | None = None
    is_image: bool = True
    kind: str = "images"               # the name of its kind of data (`vaekit.kinds`)
    # (N,) int64, for items padded at the end (sentences: ids, <eos>, then 0s): item i's real steps are
    # x[i, :lengths[i]]. Set, it makes iterate_batches bucket items by length and trim every batch.
    lengths: torch.Tensor | None = None

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    def __len__(self) -> int:
        return self.x.shape[0]

    def take(self, n: int) -> TensorData:
        """The first n items."""
        return replace(self, x=self.x[:n], labels=None if self.labels is None else self.labels[:n],
                       lengths=None if self.lengths is None else self.lengths[:n])

    def select(self, idx: torch.Tensor) -> TensorData:
        """The items at positions idx (M,) int64, in that order."""
        return replace(self, x=self.x[idx], labels=None if self.labels is None else self.labels[idx],
                       lengths=None if self.lengths is None else self.lengths[idx])


def random_items(data: Any, n: int | None, seed: int) -> Any:
    """n items of `data` drawn without replacement (seeded), kept in the data's order; all of them when n is
    None or at least len(data). A subset for a quick evaluation: the first n items can be one class only
    (Yelp's files list the negative sentences, then the positive ones)."""
    if n is None or n >= len(data):
        return data
    if n < 1:
        raise ConfigError(f"--limit {n} must be >= 1")
    idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n].sort().values  # (n,)
    return data.select(idx)


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


def binarize(x: torch.Tensor, generator: torch.Generator | int | None = None, start: int = 0) -> torch.Tensor:
    """One Bernoulli draw per pixel with probability x (pixel intensities in [0, 1]).

    u < x with u ~ U(0, 1) is Bernoulli(x), and faster than torch.bernoulli on the CPU here. generator:
    a torch generator, or for CPU tensors an int key of the counter-based stream (`vaekit.data.draws`),
    whose draws from position `start` on give u (`uniforms_of`)."""
    if isinstance(generator, int):
        if x.device.type != "cpu":
            raise ValueError(f"binarize: a stream key draws on the CPU, and x is on {x.device}")
        return bernoulli_of(x, int16_draws(generator, start, x.shape))
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return torch.lt(u, x, out=u)


def uniforms_of(s: torch.Tensor) -> torch.Tensor:
    """U(0, 1) float32 on the midpoints of the 2^-16 grid from 16-bit integers s (`int16_draws`):
    (r + 1/2) 2^-16 with r = s + 2^15. P(u < x) is x 2^16 rounded to an integer (halves down) over
    2^16: within 2^-17 (7.6e-6) of x, and exact at 0 and 1."""
    # s 2^-16 and the offset are exact in float32 and so is their sum, on the 2^-17 grid of (0, 1);
    # copy=True: the scaling below works in place, and must not overwrite an s that is float32 already
    return s.to(torch.float32, copy=True).mul_(2.0**-16).add_(0.5 + 2.0**-17)


def bernoulli_of(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """u < x in x's dtype for the uniforms u of s, written over u (fresh here): one pass instead of a
    bool tensor and a cast."""
    u = uniforms_of(s).to(x.dtype)
    return torch.lt(u, x, out=u)


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


def iterate_batches(data: Any, batch_size: int, *, generator: torch.Generator | None = None,
                    shuffle: bool = True, drop_last: bool = False
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Yield (x, labels-or-None) batches in a shuffled (or the stored) order; dynamically binarized data
    get a fresh Bernoulli draw per epoch. On the CPU the draws are the counter-based stream of the
    epoch (`vaekit.data.draws`): the pixels of the i-th item of the epoch take draws i D ... i D + D - 1,
    whatever the batch size, so every way of batching an epoch sees the same numbers."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if shuffle else None
    on_cpu = not isinstance(data, TensorData) or data.x.device.type == "cpu"
    rng = draw_key(generator) if data.binarize == "dynamic" and on_cpu else generator
    if not isinstance(data, TensorData):  # the same draws as in memory: lazily decoded items are on the CPU
        yield from _loader_batches(data, batch_size, order, rng, drop_last)
        return
    if data.lengths is not None:
        yield from _bucketed_batches(data, batch_size, order, generator, drop_last)
        return
    item = math.prod(data.x.shape[1:])
    stop = n - n % batch_size if drop_last else n
    for lo in range(0, stop, batch_size):
        hi = min(lo + batch_size, stop)
        idx = None if order is None else order[lo:hi]
        x = data.x[lo:hi] if idx is None else data.x.index_select(0, idx)
        y = None if data.labels is None else data.labels[lo:hi] if idx is None else data.labels.index_select(0, idx)
        yield (binarize(x, rng, lo * item) if data.binarize == "dynamic" else x), y


BUCKET_WINDOW = 50  # batches whose items are sorted by length together


def _bucketed_batches(data: TensorData, batch_size: int, order: torch.Tensor | None,
                      generator: torch.Generator | None, drop_last: bool
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """Batches of padded items (`data.lengths`), each cut to its longest item. Shuffled (`order`): the
    epoch's permutation is cut into windows of BUCKET_WINDOW batches, each window sorted by length, cut
    into batches, and the batches are handed out in a random order, so a batch holds items of about one
    length (little padding) drawn from anywhere in the data."""
    if data.binarize != "none":
        raise ConfigError("length-bucketed data (TensorData.lengths) are integer items: they take no binarization")
    n, lengths, shuffled = len(data), data.lengths, order is not None
    if n == 0:
        return
    if order is None:
        order = torch.arange(n)
    else:
        window = batch_size * BUCKET_WINDOW
        parts = []
        for lo in range(0, n, window):
            part = order[lo:lo + window]
            parts.append(part[torch.sort(lengths[part], stable=True).indices])  # ascending within the window
        order = torch.cat(parts)
    stop = n - n % batch_size if drop_last else n
    starts = torch.arange(0, stop, batch_size)
    if shuffled:
        starts = starts[torch.randperm(len(starts), generator=generator)]
    for lo in starts.tolist():
        idx = order[lo:min(lo + batch_size, stop)]
        longest = int(lengths[idx].max())
        x = data.x.index_select(0, idx)[:, :longest]  # (B, T) with T = the batch's longest item
        yield x, None if data.labels is None else data.labels.index_select(0, idx)


def _loader_batches(data: Any, batch_size: int, order: torch.Tensor | None,
                    generator: torch.Generator | int | None, drop_last: bool
                    ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    indices = order.tolist() if order is not None else list(range(len(data)))
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, sampler=indices, drop_last=drop_last,
                                         num_workers=getattr(data, "workers", 0),
                                         collate_fn=getattr(data, "collate", _collate))  # e.g. Padded batches
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
