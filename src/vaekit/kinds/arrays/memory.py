"""`array` in memory: a .npy / .npz of shape (N, ...) read whole, standardised per feature with the train
split's mean and std (which the run stores in data_stats.json, so that new inputs are transformed the
same way)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, check_split
from vaekit.errors import DataError
from vaekit.kinds.arrays.npy import (
    NUMERIC_KINDS,
    NpyHeader,
    check_layout,
    file_kind,
    finish_stats,
    read_npy_header,
    split_rows,
)


def read_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """x (N, ...) and optional labels y (N,) from a .npy or .npz (keys 'x' and 'y', or its only array)."""
    kind = file_kind(path)
    if kind == "npy":
        check_layout(path, read_npy_header(path))
    y = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):  # members are read lazily: inside the try too
            with loaded:
                x, y = _npz_members(path, loaded)
        else:
            x = loaded
    except DataError:
        raise
    except MemoryError:  # a zip member whose header declares more than this machine has
        raise DataError(f"array file {path} declares an array larger than the available memory") from None
    except Exception as e:  # ValueError, BadZipFile, zlib.error, EOFError, and the header parser's (see above)
        raise DataError(f"cannot read array file {path} (expected .npy or .npz without pickled objects): "
                        f"{type(e).__name__}: {e}") from None
    check_array(path, x, y)
    return x, y


def _npz_members(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[np.ndarray, np.ndarray | None]:
    keys = list(npz.keys())
    if "x" in keys:
        x, y = npz["x"], (npz["y"] if "y" in keys else None)
    elif len(keys) == 1:
        x, y = npz[keys[0]], None
    else:
        raise DataError(f"{path}: an .npz needs a key 'x' (and optionally 'y'); it has {keys}")
    for name, member in (("x", x), ("y", y)):
        if member is not None and not isinstance(member, np.ndarray):  # np.load returns other members as bytes
            raise DataError(f"{path}: member {name!r} is not a .npy array inside the .npz")
    return x, y


def check_array(path: Path, x: np.ndarray, y: np.ndarray | None) -> None:
    check_layout(path, NpyHeader(x.shape, x.dtype, False, 0))
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(x), -1).any(1))[0, 0])
            raise DataError(f"{path}: {int(bad.sum())} NaN/inf values (first in item {first})")
    if y is not None:
        check_labels(path, y, len(x))


def check_labels(path: Path, y: np.ndarray, n: int) -> None:
    if y.dtype.kind not in NUMERIC_KINDS:
        raise DataError(f"{path}: labels of dtype {y.dtype} are not numeric (expected bool, integer or float)")
    if y.ndim not in (1, 2) or len(y) != n:
        raise DataError(f"{path}: {n} items but {len(y) if y.ndim else 'scalar'} labels (expected shape ({n},) "
                        f"or ({n}, F), got {y.shape})")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{path}: labels hold NaN/inf values")
    if y.dtype.kind == "f" and y.size and np.abs(y).max() > np.finfo(np.float32).max:  # found by fuzzing
        raise DataError(f"{path}: label {np.abs(y).max()} is beyond float32, in which labels are held")
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        raise DataError(f"{path}: label {y.max()} does not fit in int64")


def label_tensor(y: np.ndarray) -> torch.Tensor:
    """Class labels as int64, factors as float32 (as TensorData documents); torch lacks most uint types."""
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32 if y.dtype.kind == "f" else np.int64))


def standardize(x: np.ndarray, stats: dict) -> np.ndarray:
    mean, std = np.asarray(stats["mean"], np.float64), np.asarray(stats["std"], np.float64)
    if mean.shape != x.shape[1:]:
        raise DataError(f"data items have shape {x.shape[1:]}, the run's statistics {mean.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        return ((x - mean) / std).astype(np.float32)


def compute_stats(x: np.ndarray, path: Path) -> dict:
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x.astype(np.float64).mean(0)
        std = x.astype(np.float64).std(0)
    return finish_stats(mean, std, path)


def _standardized_tensor(path: Path, x: np.ndarray, stats: dict) -> torch.Tensor:
    z = standardize(x, stats)
    if not np.isfinite(z).all():  # e.g. a subnormal std: finite inputs, infinite outputs
        raise DataError(f"{path}: standardised values overflow float32 (a feature's std is {min(stats['std'])})")
    return torch.from_numpy(z)


def load_array(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData:
    check_split(split)
    path = Path(cfg.data_dir or "")
    x, y = read_array(path)
    stats = stats or compute_stats(x[split_rows(path, len(x), cfg, "train")], path)
    idx = split_rows(path, len(x), cfg, split)
    labels = None if y is None else label_tensor(y[idx])
    return TensorData(_standardized_tensor(path, x[idx], stats), labels, stats=stats, is_image=False,
                      kind="arrays")


def load_array_path(path: Path, stats: dict | None) -> TensorData:
    x, y = read_array(path)
    stats = stats or compute_stats(x, path)
    return TensorData(_standardized_tensor(path, x, stats), None if y is None else label_tensor(y),
                      stats=stats, is_image=False, kind="arrays")
