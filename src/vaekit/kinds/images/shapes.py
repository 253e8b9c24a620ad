"""`shapes`: a built-in, procedural dSprites-like data set (Matthey et al. 2017), needing no files.

Binary sprites (square, ellipse, heart) over the factor grid 3 shapes x 6 scales x 40 rotations x
32 x-positions x 32 y-positions = 737,280 images. A seeded random subset of grid indices is drawn
and rendered on demand, vectorised over a batch, so any image size stays cheap.
"""

from __future__ import annotations

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, binarize, check_split, split_indices
from vaekit.errors import ConfigError

SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ROTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
POSITIONS = np.linspace(0.0, 1.0, 32)
GRID = (len(SHAPES), len(SCALES), len(ROTATIONS), len(POSITIONS), len(POSITIONS))
FACTOR_NAMES = ["shape", "scale", "rotation", "x", "y"]
# Sprite half-size at scale 1, as a fraction of the image side. Sprites of 17-34 % of the side, whose centres keep
# inside the image (see `margin` in render), span the middle ~40 % of it: an MLP VAE then learns sprites it can
# sample recognisably in a minute, where dSprites' smaller sprites over the whole image come out as blobs.
RADIUS = 0.21


def factors_of(indices: np.ndarray) -> np.ndarray:
    """Grid indices (N,) -> factor values (N, 5): shape id, scale, rotation (rad), x, y in [0, 1]."""
    s, sc, r, px, py = np.unravel_index(indices, GRID)
    return np.stack([s, SCALES[sc], ROTATIONS[r], POSITIONS[px], POSITIONS[py]], axis=1).astype(np.float32)


def _square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.8


def _ellipse(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + 4.0 * v * v <= 1.0


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    hx, hy = 1.15 * u, -1.15 * v + 0.25  # the classic heart curve (x² + y² − 1)³ − x² y³ ≤ 0
    return (hx * hx + hy * hy - 1) ** 3 - hx * hx * hy**3 <= 0


INSIDE = (_square, _ellipse, _heart)  # implicit shapes in the sprite's frame (units of its half-size)


def render(factors: np.ndarray, size: int, batch: int = 1024) -> np.ndarray:
    """Render factor rows (N, 5) as binary images (N, 1, size, size), evaluated at pixel centres."""
    margin = RADIUS * np.sqrt(2)  # a rotated square at scale 1 stays inside the image
    f = factors.astype(np.float32, copy=False)
    centre_x = margin + (1 - 2 * margin) * f[:, 3]
    centre_y = margin + (1 - 2 * margin) * f[:, 4]
    return render_sprites(f[:, 0], f[:, 1], f[:, 2], centre_x, centre_y, size, batch)


def render_sprites(shape: np.ndarray, scale: np.ndarray, rotation: np.ndarray, centre_x: np.ndarray,
                   centre_y: np.ndarray, size: int, batch: int = 1024) -> np.ndarray:
    """Binary images (N, 1, size, size) of sprites given per row (N,): shape id, scale (half-size RADIUS *
    scale of the side), rotation (rad) and the centre in units of the image side (0 = left/top edge, 1 =
    right/bottom edge; the sprite may cross the border), evaluated at pixel centres."""
    rows = np.stack([shape, scale, rotation, centre_x, centre_y], axis=1).astype(np.float32)  # (N, 5)
    out = np.empty((len(rows), 1, size, size), dtype=np.float32)
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size  # (S,)
    for start in range(0, len(rows), batch):
        f = rows[start:start + batch, :, None, None]  # (B, 5, 1, 1)
        kind, r, rot = f[:, 0], RADIUS * f[:, 1], f[:, 2]  # (B, 1, 1) each
        dx = centres[None, None, :] - f[:, 3]  # (B, 1, S)
        dy = centres[None, :, None] - f[:, 4]  # (B, S, 1)
        u = (np.cos(rot) * dx + np.sin(rot) * dy) / r  # (B, S, S): rotate into the sprite's frame
        v = (-np.sin(rot) * dx + np.cos(rot) * dy) / r
        block = out[start:start + batch, 0]
        for k, inside in enumerate(INSIDE):
            sel = kind[:, 0, 0] == k
            block[sel] = inside(u[sel], v[sel])
    return out


def load_shapes(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData:
    check_split(split)
    size = cfg.image_size or 32  # squares of 5-11 pixels a side; 4x cheaper a step than 64
    total = int(np.prod(GRID))
    if cfg.subset > total:
        raise ConfigError(f"--subset {cfg.subset} is larger than the whole grid ({total} images)")
    if cfg.subset < 10:
        raise ConfigError(f"--subset {cfg.subset} is too small to split into train/val/test (need >= 10)")
    drawn = np.random.default_rng(cfg.data_seed).choice(total, size=cfg.subset, replace=False)
    idx = drawn[split_indices(cfg.subset, cfg.val_fraction, cfg.data_seed, split).numpy()]
    factors = factors_of(idx)
    x = torch.from_numpy(render(factors, size))
    if cfg.binarize == "static":  # the sprites are binary already; kept for a uniform interface
        x = binarize(x, torch.Generator().manual_seed(cfg.data_seed))
    return TensorData(x, torch.from_numpy(factors), binarize=cfg.binarize, label_names=list(FACTOR_NAMES))
