"""`array`: non-image data from a .npy / .npz of shape (N, ...) (tabular rows, audio frames).

Standardised per feature with the train split's mean and std, which the run stores
(data_stats.json) so that new inputs are transformed the same way.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, check_split, split_indices
from vaekit.errors import DataError


def read_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """x (N, ...) and optional labels y (N,) from a .npy or .npz (keys 'x' and 'y', or its only array)."""
    if not path.is_file():
        raise DataError(f"array file {path} does not exist")
    y = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):  # members are read lazily: inside the try too
            with loaded:
                keys = list(loaded.keys())
                if "x" in keys:
                    x, y = loaded["x"], (loaded["y"] if "y" in keys else None)
                elif len(keys) == 1:
                    x = loaded[keys[0]]
                else:
                    raise DataError(f"{path}: an .npz needs a key 'x' (and optionally 'y'); it has {keys}")
        else:
            x = loaded
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise DataError(f"cannot read array file {path} (expected .npy or .npz without pickled objects): {e}") from None
    check_array(path, x, y)
    return x, y


def check_array(path: Path, x: np.ndarray, y: np.ndarray | None) -> None:
    if x.ndim < 2 or x.shape[0] < 2:
        raise DataError(f"{path}: expected shape (N, ...) with N >= 2 items of >= 1 value, got {x.shape}")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise DataError(f"{path}: dtype {x.dtype} is not numeric")
    if np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.complexfloating):
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(x), -1).any(1))[0, 0])
            raise DataError(f"{path}: {int(bad.sum())} NaN/inf values (first in item {first})")
    if y is not None and not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise DataError(f"{path}: labels of dtype {y.dtype} are not numeric")
    if y is not None and len(y) != len(x):
        raise DataError(f"{path}: {len(x)} items but {len(y)} labels")


def standardize(x: np.ndarray, stats: dict) -> np.ndarray:
    mean, std = np.asarray(stats["mean"], np.float64), np.asarray(stats["std"], np.float64)
    if mean.shape != x.shape[1:]:
        raise DataError(f"data items have shape {x.shape[1:]}, the run's statistics {mean.shape}")
    return ((x - mean) / std).astype(np.float32)


def compute_stats(x: np.ndarray) -> dict:
    mean = x.astype(np.float64).mean(0)
    std = x.astype(np.float64).std(0)
    std[std == 0] = 1.0  # a constant feature is only centred
    return {"mean": mean.tolist(), "std": std.tolist()}


def load_array(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData:
    check_split(split)
    path = Path(cfg.data_dir or "")
    x, y = read_array(path)
    train_idx = split_indices(len(x), cfg.val_fraction, cfg.data_seed, "train").numpy()
    stats = stats or compute_stats(x[train_idx])
    idx = split_indices(len(x), cfg.val_fraction, cfg.data_seed, split).numpy()
    labels = None if y is None else torch.from_numpy(np.asarray(y[idx]))
    return TensorData(torch.from_numpy(standardize(x[idx], stats)), labels, stats=stats, is_image=False)


def load_array_path(path: Path, stats: dict | None) -> TensorData:
    x, y = read_array(path)
    stats = stats or compute_stats(x)
    return TensorData(torch.from_numpy(standardize(x, stats)), None if y is None else torch.from_numpy(y),
                      stats=stats, is_image=False)
