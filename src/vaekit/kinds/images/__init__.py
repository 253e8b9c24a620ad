"""Images: the built-in `shapes` sprites, MNIST and a folder of image files, items (C, H, W) in [0, 1];
written for a person as PNG grids (`grid`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
        """bits/dim where log p(x) is a log-probability of discrete pixels: a probability mass function
        over binary or 8-bit values (the likelihood head says so with `discrete`)."""
        if not getattr(model.likelihood_head, "discrete", False):
            return None
        return Unit("bits/dim", math.prod(data.event_shape) * math.log(2))

    def shows(self, event_shape: tuple[int, ...], data: Any = None) -> bool:
        """(C, H, W) items with C = 1 or 3; not data that says it holds no pictures (`is_image`)."""
        shape = tuple(event_shape)
        return bool(getattr(data, "is_image", True)) and len(shape) == 3 and shape[0] in (1, 3)

    def write_grid(self, items: Any, out: Path, per_row: int | None = None) -> list[Path]:
        from vaekit.kinds.images.grid import make_grid, save_png

        return [save_png(make_grid(items.detach().cpu().float().clamp(0, 1), per_row), out)]

    def html_grid(self, items: Any, alt: str, per_row: int | None = None) -> str:
        from vaekit.kinds.images.grid import grid_html

        return grid_html(items, alt, per_row)
