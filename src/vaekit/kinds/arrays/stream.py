"""Array data larger than memory: a .npy read row by row from disk, standardised on access.

`load_streamed` is `array` with in_memory=False. One pass over the file in chunks checks every value
for NaN/inf and computes the train split's mean and std (float64 accumulators merged chunk by chunk),
so memory stays bounded by a chunk. Items are then read batch by batch (the training loop's DataLoader
path calls `__getitems__`) and standardised as they are read.

Rows are read with positioned reads (`os.preadv`) rather than through a memory map (`np.load(...,
mmap_mode="r")`): the reads copy from the kernel's page cache into a batch buffer, so the process holds
one batch, not the file. A map does not stay bounded under random access: every page fault maps the
pages around it too, and with large folios (transparent huge pages for the page cache) one random 4 KiB
row mapped ~2 MB into the process's RSS, faster than madvise(MADV_DONTNEED) after every batch could
return it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, check_split
from vaekit.errors import DataError
from vaekit.kinds.arrays.npy import NpyHeader, check_layout, file_kind, finish_stats, read_npy_header, split_rows

CHUNK_BYTES = 8 << 20  # bytes per read of the statistics pass: with its float64 copies, ~5x this in memory


class NpyRows:
    """Rows of a C-ordered .npy read from disk on demand; the file is opened on first use in each process
    (a DataLoader worker forked or spawned later opens its own)."""

    def __init__(self, path: Path, header: NpyHeader) -> None:
        if header.fortran_order and len(header.shape) > 1:
            raise DataError(f"array file {path} is stored in Fortran order, so its rows are not contiguous on disk; "
                            "re-save it in C order to stream it: np.save(path, np.ascontiguousarray(x))")
        self.path, self.header = path, header
        self.item_shape = tuple(header.shape[1:])
        self.row_bytes = header.dtype.itemsize * math.prod(self.item_shape)
        self._fd: int | None = None
        self._pid = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "header": self.header}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["header"])

    def __len__(self) -> int:
        return self.header.shape[0]

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as e:
                raise DataError(f"cannot open array file {self.path}: {e.strerror or e}") from None
            self._pid = os.getpid()
        return self._fd

    def _read_into(self, buf: np.ndarray, first_row: int) -> None:
        want = buf.nbytes
        got = os.preadv(self._file(), [memoryview(buf).cast("B")], self.header.offset + first_row * self.row_bytes)
        if got != want:
            raise DataError(f"array file {self.path} changed while being read: {got} of {want} bytes at row "
                            f"{first_row} (truncated?)")

    def read(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the given rows (any order); runs of consecutive rows are read in one call."""
        order = np.argsort(rows, kind="stable")
        srt = rows[order]
        block = np.empty((len(rows), *self.item_shape), self.header.dtype)
        breaks = np.flatnonzero(np.diff(srt) != 1) + 1
        for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(srt)], strict=True):
            self._read_into(block[lo:hi], int(srt[lo]))
        out = np.empty_like(block)
        out[order] = block
        return out

    def chunks(self, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows) over the whole file in order, through one reused buffer."""
        step = max(1, chunk_bytes // max(1, self.row_bytes))
        buf = np.empty((min(step, len(self)), *self.item_shape), self.header.dtype)
        for start in range(0, len(self), step):
            part = buf[: min(step, len(self) - start)]
            self._read_into(part, start)
            yield start, part


def scan(rows: NpyRows, train_rows: np.ndarray | None) -> dict | None:
    """One pass in chunks: refuse NaN/inf anywhere; with train_rows (sorted), also their statistics.

    The statistics merge each chunk's count, mean and sum of squared deviations in float64 (Chan, Golub &
    LeVeque 1979): as exact as a two-pass computation, without holding the split."""
    count, mean, m2 = 0, np.zeros(rows.item_shape), np.zeros(rows.item_shape)
    n_bad, first_bad = 0, -1
    with np.errstate(over="ignore", invalid="ignore"):
        for start, chunk in rows.chunks():
            if chunk.dtype.kind == "f":
                finite = np.isfinite(chunk)
                if not finite.all():
                    n_bad += int(finite.size - finite.sum())
                    first_bad = start + int(np.argmin(finite.reshape(len(chunk), -1).all(1))) if first_bad < 0 \
                        else first_bad
            if train_rows is not None and not n_bad:
                lo, hi = np.searchsorted(train_rows, [start, start + len(chunk)])
                part = chunk[train_rows[lo:hi] - start].astype(np.float64)
                count, mean, m2 = _merge(count, mean, m2, part)
    if n_bad:
        raise DataError(f"{rows.path}: {n_bad} NaN/inf values (first in item {first_bad})")
    return None if train_rows is None else finish_stats(mean, np.sqrt(m2 / count), rows.path)


def _merge(count: int, mean: np.ndarray, m2: np.ndarray, part: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    if not len(part):
        return count, mean, m2
    n_b, mean_b = len(part), part.mean(0)
    m2_b = ((part - mean_b) ** 2).sum(0)
    if count == 0:
        return n_b, mean_b, m2_b
    total = count + n_b
    delta = mean_b - mean
    # (delta * sqrt(w))^2, not delta^2 * w: it overflows only where the sum of squares itself does (values
    # near 1e154 overflowed delta^2 alone; found by fuzzing, where in-memory statistics were finite)
    return total, mean + delta * (n_b / total), m2 + m2_b + (delta * np.sqrt(count * n_b / total)) ** 2


class StreamedArrayData(torch.utils.data.Dataset):
    """The rows of one split of a .npy on disk, standardised on access; the training loop serves it
    through a DataLoader like `LazyImageData`. A .npy has no labels (an .npz 'y' cannot be streamed)."""

    binarize = "none"  # as in-memory array data: standardised values are not probabilities
    is_image = False
    kind = "arrays"
    labels = None
    label_names = None

    def __init__(self, source: NpyRows, rows: np.ndarray, stats: dict, workers: int = 0) -> None:
        self.source, self.rows, self.stats, self.workers = source, rows, stats, workers
        self._mean = np.asarray(stats["mean"], np.float64)
        self._std = np.asarray(stats["std"], np.float64)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.source.item_shape

    @property
    def x(self) -> _Rows:
        """Row access by index or slice, for callers that slice `data.x` (e.g. `vaekit reconstruct`)."""
        return _Rows(self)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, None]:
        return self.batch(np.asarray([i]))[0], None

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, None]]:
        """One read per batch (the DataLoader calls this instead of __getitem__ per item)."""
        return [(row, None) for row in self.batch(np.asarray(indices, dtype=np.int64))]

    def batch(self, positions: np.ndarray) -> torch.Tensor:
        """Standardised float32 rows at these positions of the split."""
        raw = self.source.read(self.rows[positions])
        with np.errstate(over="ignore", invalid="ignore"):
            z = ((raw.astype(np.float64) - self._mean) / self._std).astype(np.float32)
        if not np.isfinite(z).all():  # e.g. a subnormal std: finite inputs, infinite outputs
            raise DataError(f"{self.source.path}: standardised values overflow float32 (a feature's std is "
                            f"{self._std.min()})")
        return torch.from_numpy(z)

    def take(self, n: int) -> TensorData:
        """The first n items, in memory."""
        return self.select(torch.arange(min(n, len(self))))

    def select(self, idx: torch.Tensor) -> TensorData:
        """The rows at positions idx (M,) int64, in memory."""
        return TensorData(self.batch(idx.numpy()), None, stats=self.stats, is_image=False, kind="arrays")


class _Rows:
    def __init__(self, data: StreamedArrayData) -> None:
        self.data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.data), *self.data.event_shape)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, key: Any) -> torch.Tensor:
        positions = np.arange(len(self.data))[key]
        return self.data.batch(np.atleast_1d(positions))[0 if np.ndim(positions) == 0 else slice(None)]


def load_streamed(cfg: DataConfig, split: str, stats: dict | None = None) -> StreamedArrayData:
    """One split of a .npy too large for memory (array data with in_memory=False)."""
    check_split(split)
    path = Path(cfg.data_dir or "")
    if file_kind(path) == "npz":
        raise DataError(f"array file {path} is an .npz, whose (compressed) members cannot be read row by row; with "
                        f"--no-in-memory convert it to .npy first: np.save('x.npy', np.load('{path.name}')['x'])")
    header = read_npy_header(path)
    check_layout(path, header)
    n = header.shape[0]
    source = NpyRows(path, header)
    train_rows = split_rows(path, n, cfg, "train") if stats is None else None
    stats = scan(source, train_rows) or stats
    mean_shape = np.shape(stats["mean"])
    if mean_shape != header.shape[1:]:
        raise DataError(f"data items have shape {header.shape[1:]}, the run's statistics {mean_shape}")
    rows = split_rows(path, n, cfg, split)
    return StreamedArrayData(source, rows, stats, workers=cfg.workers)


__all__ = ["NpyRows", "StreamedArrayData", "load_streamed", "scan"]
