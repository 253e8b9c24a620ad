"""Spectrograms as pictures: time runs left to right, frequency bottom (low) to top (high), loudness as a
perceptually uniform colour map (magma, van der Walt & Smith's matplotlib maps). Values are shown in dB
(20 log10 of amplitude) over a range that is either fixed, so that pictures compare, or the top `top_db`
below the loudest value."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaekit.errors import DataError
from vaekit.kinds.images.grid import make_grid
from vaekit.kinds.images.grid import save_png as _save_png_array
from vaekit.kinds.sounds.metrics import DB_PER_NEPER


def _colour_lut(cmap: str) -> np.ndarray:
    """(256, 3) float RGB in [0, 1] of a matplotlib colour map."""
    import matplotlib

    return np.asarray(matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256)))[:, :3]


def _db(log_spec: torch.Tensor | np.ndarray) -> np.ndarray:
    """Natural-log amplitudes -> dB, as float64 numpy."""
    x = log_spec.detach().cpu().double().numpy() if isinstance(log_spec, torch.Tensor) else np.asarray(log_spec)
    return x.astype(np.float64) * DB_PER_NEPER


def _db_range(db: np.ndarray, db_range: tuple[float, float] | None, top_db: float) -> tuple[float, float]:
    if db_range is not None:
        lo, hi = db_range
        if not hi > lo:
            raise DataError(f"db_range must be (low, high) with high > low, got {db_range}")
        return float(lo), float(hi)
    hi = float(db.max())
    return hi - top_db, hi


def _colourise(db: np.ndarray, lo: float, hi: float, cmap: str) -> np.ndarray:
    """dB (..., F, T) -> RGB floats (..., 3, F, T) in [0, 1], row 0 = the highest frequency."""
    idx = np.rint(np.clip((db - lo) / (hi - lo), 0.0, 1.0) * 255).astype(np.intp)
    rgb = _colour_lut(cmap)[idx]                 # (..., F, T, 3)
    return np.moveaxis(rgb, -1, -3)[..., ::-1, :]  # (..., 3, F, T), flipped so low frequencies are at the bottom


def spectrogram_image(log_spec: torch.Tensor | np.ndarray, db_range: tuple[float, float] | None = None,
                      top_db: float = 80.0, cmap: str = "magma") -> Image.Image:
    """A log spectrogram (F, T) (natural log of amplitude, as `log_mel` makes it) as an RGB picture of
    width T and height F. `db_range` fixes the (low, high) dB shown dark to bright; by default it is
    (max - top_db, max)."""
    db = _db(log_spec)
    if db.ndim != 2:
        raise DataError(f"spectrogram_image expects one spectrogram (F, T), got shape {db.shape}")
    lo, hi = _db_range(db, db_range, top_db)
    rgb = _colourise(db, lo, hi, cmap).transpose(1, 2, 0)  # (F, T, 3)
    return Image.fromarray(np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8), "RGB")


def spectrogram_grid(items: torch.Tensor | np.ndarray, per_row: int | None = None, gap: int = 2,
                     db_range: tuple[float, float] | None = None, top_db: float = 80.0,
                     cmap: str = "magma") -> Image.Image:
    """N log spectrograms (N, F, T) or (N, 1, F, T) side by side, `per_row` a row (default: a square-ish
    grid), `gap` white pixels between and around them, all on one dB scale (the loudest item sets it unless
    `db_range` is given), so that they compare."""
    db = _db(items)
    if db.ndim == 4 and db.shape[1] == 1:
        db = db[:, 0]                            # (N, F, T)
    if db.ndim != 3 or len(db) == 0:
        raise DataError(f"spectrogram_grid expects spectrograms (N, F, T), got shape {db.shape}")
    lo, hi = _db_range(db, db_range, top_db)
    grid = make_grid(_colourise(db, lo, hi, cmap), nrow=per_row, pad=gap, pad_value=1.0)  # (H', W', 3) uint8
    return Image.fromarray(grid, "RGB")


def save_png(image: Image.Image, path: str | Path) -> Path:
    """Write `image` as PNG atomically (a temporary file beside `path`, then a rename), creating the folder:
    a reader never sees half a picture."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        _save_png_array(np.asarray(image), tmp_name)
        os.replace(tmp_name, path)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    return path
