"""Image grids: (N, C, H, W) arrays in [0, 1] -> one uint8 picture, and PNG output with Pillow."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_grid(images: torch.Tensor | np.ndarray, nrow: int | None = None, pad: int = 2,
              pad_value: float = 1.0) -> np.ndarray:
    """Tile N images (N, C, H, W) with values in [0, 1] into an (rows*(H+pad)+pad, ...) uint8 array
    of shape (H', W') for one channel or (H', W', 3) for three. `nrow` images per row
    (default: a square-ish grid)."""
    x = images.detach().cpu().float().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"make_grid expects (N, C, H, W) with C in (1, 3), got {x.shape}")
    n, c, h, w = x.shape
    ncol = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / ncol))
    grid = np.full((c, rows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=np.float32)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = x[i]
    out = np.clip(np.rint(grid * 255), 0, 255).astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)  # (H', W') or (H', W', 3)


def save_png(array: np.ndarray, path: str | Path) -> Path:
    """Write a uint8 (H, W) or (H, W, 3) array as PNG, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def save_grid(images: torch.Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save a grid PNG of `images` and the raw array as .npy beside it."""
    path = Path(path)
    save_png(make_grid(images, nrow), path)
    np.save(path.with_suffix(".npy"), images.detach().cpu().float().numpy())
    return path


def reconstruction_pairs(x: torch.Tensor, recon: torch.Tensor, ncol: int | None = None) -> tuple[torch.Tensor, int]:
    """Interleave rows: a row of inputs, then the row of their reconstructions, and so on.

    Returns the (2N', C, H, W) images (N' = N rounded down to whole rows) and the row length."""
    n = len(x)
    ncol = ncol or max(1, min(n, round(math.sqrt(2 * n))))
    rows = max(1, n // ncol)
    n = rows * ncol
    a = x[:n].reshape(rows, 1, ncol, *x.shape[1:])          # (rows, 1, ncol, C, H, W)
    b = recon[:n].reshape(rows, 1, ncol, *x.shape[1:])
    return torch.cat([a, b], dim=1).reshape(2 * n, *x.shape[1:]), ncol  # (2n, C, H, W)


def grid_html(images: torch.Tensor, alt: str, nrow: int | None = None) -> str:
    """Images (N, C, H, W) as an inline grid <img> (a base64 PNG data URI), small images shown enlarged."""
    arr = make_grid(images.detach().cpu().float().clamp(0, 1), nrow)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    width = min(arr.shape[1] * max(1, min(4, 64 // images.shape[-1])), 960)
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="{uri}" alt="{html.escape(alt)}" width="{width}">'
