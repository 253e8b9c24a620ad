"""Data sets (shapes, mnist, folder, array), binarization, and the batch iterator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.array import load_array, load_array_path, read_array
from vaekit.data.base import TensorData, binarize, class_count, fixed_binarization, iterate_batches
from vaekit.data.folder import LazyImageData, load_folder, load_image_path
from vaekit.data.mnist import load_mnist, mnist_files
from vaekit.data.shapes import load_shapes
from vaekit.errors import DataError

LOADERS: dict[str, Callable[..., Any]] = {
    "shapes": load_shapes,
    "mnist": load_mnist,
    "folder": load_folder,
    "array": load_array,
}


def load_split(cfg: DataConfig, split: str, *, stats: dict | None = None) -> TensorData | LazyImageData:
    """The train, val or test split of the data set a config describes."""
    return LOADERS[cfg.dataset](cfg, split, stats)


def load_path(path: str | Path, cfg: DataConfig, *, stats: dict | None = None) -> TensorData:
    """New inputs for a trained model: an image, an image folder, or a .npy/.npz array file."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"input {p} does not exist")
    if p.suffix.lower() in (".npy", ".npz"):
        if stats is not None:
            return load_array_path(p, stats)
        x, _ = read_array(p)  # a run without statistics takes raw values (e.g. image arrays in [0, 1])
        return TensorData(torch.from_numpy(x.astype(np.float32)), binarize=cfg.binarize, is_image=x.ndim == 4)
    return load_image_path(p, cfg)


__all__ = ["LOADERS", "LazyImageData", "TensorData", "binarize", "class_count", "fixed_binarization",
           "iterate_batches", "load_path", "load_split", "mnist_files"]
