"""Array data larger than memory: a memory-mapped .npy, standardised item by item on access.

`load_streamed` is `array` with in_memory=False. One pass over the file in chunks checks every value
for NaN/inf and computes the train split's mean and std (float64 accumulators merged chunk by chunk),
so memory stays bounded by a chunk. Items are then read from the map batch by batch (the training
loop's DataLoader path calls `__getitems__`), and standardised as they are read.

Pages of a mapped file that the process has read count in its RSS (as file-backed pages) until the
kernel reclaims them. The map is therefore vaekit's own `mmap` rather than `np.load(mmap_mode="r")`'s:
after every CHUNK_BYTES read, `madvise(MADV_DONTNEED)` unmaps the pages from the process, so its RSS
stays bounded as well (the data stay in the page cache, which is the kernel's, not the process's).
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.array import NpyHeader, check_layout, file_kind, finish_stats, read_npy_header, split_rows
from vaekit.data.base import TensorData, check_split
from vaekit.errors import DataError

CHUNK_BYTES = 32 << 20  # rows per pass of the statistics, and the bytes read between two page drops


class MappedNpy:
    """The data of a .npy, memory-mapped read-only on first use (also after a fork or unpickling)."""

    def __init__(self, path: Path, header: NpyHeader) -> None:
        self.path, self.header = path, header
        self._map: mmap.mmap | None = None
        self._array: np.ndarray | None = None
        self._since_drop = 0

    def __getstate__(self) -> dict[str, Any]:  # a DataLoader worker started by spawn re-maps the file
        return {"path": self.path, "header": self.header}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["header"])

    @property
    def array(self) -> np.ndarray:
        if self._array is None:
            try:
                with open(self.path, "rb") as f:
                    self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as e:
                raise DataError(f"cannot memory-map array file {self.path}: {e}") from None
            h = self.header
            self._array = np.ndarray(h.shape, h.dtype, buffer=self._map, offset=h.offset,
                                     order="F" if h.fortran_order else "C")
        return self._array

    def read(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the given rows (any order), read in file order."""
        order = np.argsort(rows, kind="stable")
        block = self.array[rows[order]]
        out = np.empty_like(block)
        out[order] = block
        self.touched(block.nbytes)
        return out

    def touched(self, nbytes: int) -> None:
        self._since_drop += nbytes
        if self._since_drop >= CHUNK_BYTES:
            self.drop_pages()

    def drop_pages(self) -> None:
        """Unmap the pages read so far from this process (they stay in the kernel's page cache)."""
        self._since_drop = 0
        if self._map is not None and hasattr(mmap, "MADV_DONTNEED"):  # Linux, macOS; elsewhere the OS decides
            self._map.madvise(mmap.MADV_DONTNEED)


def scan(mapped: MappedNpy, train_rows: np.ndarray | None) -> dict | None:
    """One pass in chunks: refuse NaN/inf anywhere; with train_rows (sorted), also their statistics.

    The statistics merge each chunk's count, mean and sum of squared deviations in float64 (Chan, Golub &
    LeVeque 1979): as exact as a two-pass computation, without holding the split."""
    arr, path = mapped.array, mapped.path
    row_bytes = max(1, arr[0].nbytes)
    step = max(1, CHUNK_BYTES // row_bytes)
    count, mean, m2 = 0, np.zeros(arr.shape[1:]), np.zeros(arr.shape[1:])
    n_bad, first_bad = 0, -1
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(arr), step):
            chunk = arr[start:start + step]
            if chunk.dtype.kind == "f":
                bad = ~np.isfinite(chunk).reshape(len(chunk), -1).all(1)
                if bad.any():
                    n_bad += int((~np.isfinite(chunk)).sum())
                    first_bad = start + int(np.argmax(bad)) if first_bad < 0 else first_bad
            if train_rows is not None and not n_bad:
                lo, hi = np.searchsorted(train_rows, [start, start + len(chunk)])
                part = chunk[train_rows[lo:hi] - start].astype(np.float64)
                count, mean, m2 = _merge(count, mean, m2, part)
            mapped.touched(chunk.nbytes)
    mapped.drop_pages()
    if n_bad:
        raise DataError(f"{path}: {n_bad} NaN/inf values (first in item {first_bad})")
    return None if train_rows is None else finish_stats(mean, np.sqrt(m2 / count), path)


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
    """The rows of one split of a memory-mapped .npy, standardised on access; the training loop serves it
    through a DataLoader like `LazyImageData`. A .npy has no labels (an .npz 'y' cannot be streamed)."""

    binarize = "none"  # as in-memory array data: standardised values are not probabilities
    is_image = False
    labels = None
    label_names = None

    def __init__(self, mapped: MappedNpy, rows: np.ndarray, stats: dict, workers: int = 0) -> None:
        self.mapped, self.rows, self.stats, self.workers = mapped, rows, stats, workers
        self._mean = np.asarray(stats["mean"], np.float64)
        self._std = np.asarray(stats["std"], np.float64)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.mapped.header.shape[1:])

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
        raw = self.mapped.read(self.rows[positions])
        with np.errstate(over="ignore", invalid="ignore"):
            z = ((raw.astype(np.float64) - self._mean) / self._std).astype(np.float32)
        if not np.isfinite(z).all():  # e.g. a subnormal std: finite inputs, infinite outputs
            raise DataError(f"{self.mapped.path}: standardised values overflow float32 (a feature's std is "
                            f"{self._std.min()})")
        return torch.from_numpy(z)

    def take(self, n: int) -> TensorData:
        """The first n items, in memory."""
        x = self.batch(np.arange(min(n, len(self))))
        return TensorData(x, None, stats=self.stats, is_image=False)


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
        raise DataError(f"array file {path} is an .npz, whose (compressed) members cannot be memory-mapped; with "
                        f"--no-in-memory convert it to .npy first: np.save('x.npy', np.load('{path.name}')['x'])")
    header = read_npy_header(path)
    check_layout(path, header)
    n = header.shape[0]
    mapped = MappedNpy(path, header)
    train_rows = split_rows(path, n, cfg, "train") if stats is None else None
    stats = scan(mapped, train_rows) or stats
    mean_shape = np.shape(stats["mean"])
    if mean_shape != header.shape[1:]:
        raise DataError(f"data items have shape {header.shape[1:]}, the run's statistics {mean_shape}")
    rows = split_rows(path, n, cfg, split)
    return StreamedArrayData(mapped, rows, stats, workers=cfg.workers)


__all__ = ["MappedNpy", "StreamedArrayData", "load_streamed", "scan"]
