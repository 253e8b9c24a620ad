"""Images: the built-in `shapes` sprites, MNIST and a folder of image files, items (C, H, W) in [0, 1];
written for a person as PNG grids (`grid`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from vaekit.kinds.base import Kind, Unit


class ImageKind(Kind):
    name = "images"
    datasets = ("shapes", "mnist", "folder")
    architectures = ("mlp", "conv", "resnet", "resmlp")
    needs_data_dir = ("folder",)
    likelihoods = ("bernoulli", "bernoulli_ar", "gaussian", "logistic", "logistic_mixture")

    def load_split(self, cfg: Any, split: str, stats: dict | None = None) -> Any:
        if cfg.dataset == "shapes":
            from vaekit.kinds.images.shapes import load_shapes

            return load_shapes(cfg, split, stats)
        if cfg.dataset == "mnist":
            from vaekit.kinds.images.mnist import load_mnist

            return load_mnist(cfg, split, stats)
        from vaekit.kinds.images.folder import load_folder

        return load_folder(cfg, split, stats)

    def load_path(self, path: Path, cfg: Any, stats: dict | None = None) -> Any:
        """An image file, a folder of them, or a .npy/.npz of images (N, C, H, W) in [0, 1]."""
        if path.suffix.lower() in (".npy", ".npz"):
            import numpy as np
            import torch

            from vaekit.data.base import TensorData
            from vaekit.kinds.arrays.memory import load_array_path, read_array

            if stats is not None:  # standardised as the run's training split was
                return load_array_path(path, stats)
            x, _ = read_array(path)
            return TensorData(torch.from_numpy(x.astype(np.float32)), binarize=cfg.binarize, is_image=x.ndim == 4)
        from vaekit.kinds.images.folder import load_image_path

        return load_image_path(path, cfg)

    def unit(self, model: Any, data: Any) -> Unit | None:
        """bits/dim where log p(x) is a code length: p(x|z) a probability mass on the data's values."""
        if not bits_per_dim_defined(model, data):
            return None
        return Unit("bits/dim", "bits_per_dim", math.prod(data.event_shape) * math.log(2))

    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        """(C, H, W) items with C = 1 or 3; not data that says it holds no pictures (`is_image`)."""
        shape = tuple(event_shape)
        return bool(getattr(data, "is_image", True)) and len(shape) == 3 and shape[0] in (1, 3)

    def write_grid(self, items: Any, out: Path, per_row: int | None = None, stats: dict | None = None) -> list[Path]:
        from vaekit.kinds.images.grid import make_grid, save_png

        return [save_png(make_grid(items.detach().cpu().float().clamp(0, 1), per_row), out.with_suffix(".png"))]

    def html_grid(self, items: Any, alt: str, per_row: int | None = None, stats: dict | None = None) -> str:
        from vaekit.kinds.images.grid import grid_html

        return grid_html(items, alt, per_row)


def bits_per_dim_defined(model: torch.nn.Module, data: Any) -> bool:
    """Whether -log p(x) / (D ln 2) is a code length in bits: only where p(x|z) is a probability mass
    (`likelihood_head.levels` values per dimension, on the grid 0, 1/(levels - 1), ..., 1: 2 for the
    Bernoulli likelihoods, 256 for the discretized logistics) and the data lie on those values (binarized
    pixels; 8-bit images). A density (Gaussian), grey levels under a Bernoulli and standardised arrays
    give a number that depends on the units of x, not bits."""
    levels = getattr(model.likelihood_head, "levels", None)
    if levels is None:
        return False
    if getattr(data, "binarize", "none") != "none":
        return True  # binary draws: 0 and 1 are on every grid
    x = getattr(data, "x", None)
    if x is None:  # decoded lazily: images are 8-bit, streamed arrays standardised
        return levels == 256 and bool(getattr(data, "is_image", False))
    for part in x.reshape(-1).split(2**22):  # bounded temporaries for a large resident data set
        scaled = part.float() * (levels - 1)
        if not (part.min() >= 0 and part.max() <= 1 and torch.allclose(scaled, scaled.round(), rtol=0, atol=1e-3)):
            return False
    return True
