"""`moving-mnist`: MNIST digits bouncing in a frame (Srivastava, Mansimov & Salakhutdinov 2015, sec. 3).

Each video shows --digits (1 or 2) MNIST digits, each resized to half the frame side (16 x 16 in the default
32 x 32 frames; the 28 x 28 digit unchanged in frames of 56 px or more), for --frames frames (10 by default).
As in Srivastava et al., each digit starts at a random position with a random direction (an angle uniform
on [0, 2 pi)) and moves at a constant speed, its path reflected at the borders; its position is rounded to
whole pixels, and two digits combine by the pixel-wise max. The speed is one of 3 levels, 5, 8 or 11 % of
the frame side a frame (1.6-3.5 px in 32 px frames). Frames are grey in [0, 1]; --binarize static
thresholds them at 0.5 (binary frames), dynamic draws a Bernoulli sample of every batch.

The digits of the train split come from the first 50,000 MNIST training images, val from the last 10,000
and test from the 10,000 test images (`vaekit.kinds.images.mnist`'s split and reader; the files are looked
for in --data-dir, then $VAEKIT_DATA/mnist, then the user cache, and never downloaded here). A split of
n videos (--subset cut as `split_indices` cuts it) is drawn from --data-seed and the split, and cached as
uint8 in $XDG_CACHE_HOME/vaekit/moving-mnist/ (else ~/.cache), under a name made of every parameter that
shapes it, the MNIST files' digests included.

Factors per video: content = digit (and digit2), motion = direction (the start velocity's angle in 8 bins
centred on the compass directions, 0 = east, counting counter-clockwise on the screen) and speed (and
direction2, speed2); the label is the (first) digit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.data.base import SPLITS, split_indices
from vaekit.errors import DataError
from vaekit.kinds.images import mnist
from vaekit.kinds.videos.files import resize_square
from vaekit.kinds.videos.moving import bounce

log = logging.getLogger("vaekit.kinds.videos")

SPEEDS = (0.05, 0.08, 0.11)  # of the frame side, a frame
DIRECTION_BINS = 8
CACHE_VERSION = 1  # bump when the generator changes: older cache files then no longer match


def digit_side(size: int) -> int:
    """The side of a digit in frames of `size` pixels: half the frame, at most MNIST's 28."""
    return min(28, size // 2)


def resize_digits(images: np.ndarray, side: int) -> np.ndarray:
    """(N, 28, 28) uint8 -> (N, side, side) uint8, by antialiased bilinear interpolation."""
    if side == images.shape[-1]:
        return images
    x = resize_square(torch.from_numpy(images).float()[:, None], side)  # (N, 1, side, side)
    return x[:, 0].round().clamp(0, 255).to(torch.uint8).numpy()


def paste(digits: np.ndarray, corners: np.ndarray, size: int) -> np.ndarray:
    """Frames (n, T, S, S) uint8 holding digit i (n, d, d) with its top-left corner at corners[i, t] (column,
    row) in whole pixels, inside the frame."""
    n, d = len(digits), digits.shape[-1]
    rows = np.arange(size)[None, None, :] - corners[..., 1, None]  # (n, T, S): the digit's row at each frame row
    cols = np.arange(size)[None, None, :] - corners[..., 0, None]
    inside = ((rows >= 0) & (rows < d))[..., :, None] & ((cols >= 0) & (cols < d))[..., None, :]  # (n, T, S, S)
    which = np.arange(n)[:, None, None, None]
    pixels = digits[which, rows.clip(0, d - 1)[..., :, None], cols.clip(0, d - 1)[..., None, :]]  # (n, T, S, S)
    return np.where(inside, pixels, 0).astype(np.uint8)


def generate(images: np.ndarray, labels: np.ndarray, n: int, frames: int, size: int, digits: int,
             seed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """n videos (n, T, 1, S, S) uint8 of `digits` digits drawn from images (M, 28, 28) with their labels (M,),
    and their factors (n, 3 digits): per digit its class, direction bin and speed level."""
    rng = np.random.default_rng(seed)
    d = digit_side(size)
    frames_out = np.zeros((n, frames, size, size), dtype=np.uint8)
    columns = []
    for _ in range(digits):
        pick = rng.integers(0, len(images), n)
        angle = rng.uniform(0.0, 2 * np.pi, n)
        level = rng.integers(0, len(SPEEDS), n)
        start = rng.uniform(0.0, size - d, (n, 2))  # (n, 2) top-left corner (column, row)
        speed = np.asarray(SPEEDS)[level] * size
        # the angle counts counter-clockwise on the screen, whose rows grow downwards
        velocity = np.stack([np.cos(angle), -np.sin(angle)], 1) * speed[:, None]  # (n, 2) pixels a frame
        low, high = np.zeros((n, 2)), np.full((n, 2), float(size - d))
        corners = np.rint(bounce(start, velocity, frames, low, high)).astype(np.int64)  # (n, T, 2)
        glyphs = resize_digits(images[pick], d)
        for lo in range(0, n, 256):  # pasting holds (chunk, T, S, S) index arrays
            part = slice(lo, lo + 256)
            np.maximum(frames_out[part], paste(glyphs[part], corners[part], size), out=frames_out[part])
        direction = np.floor(angle / (2 * np.pi / DIRECTION_BINS) + 0.5).astype(np.int64) % DIRECTION_BINS
        columns.append(np.stack([labels[pick].astype(np.int64), direction, level], 1))
    factors = np.concatenate(columns, 1)  # (n, 3 digits): digit, direction, speed of each digit in turn
    return frames_out[:, :, None], factors


def factor_layout(digits: int) -> tuple[list[str], tuple[str, ...], tuple[str, ...]]:
    """The factor columns of `generate` (names), and which are content and which motion."""
    suffixes = [""] + [str(k + 1) for k in range(1, digits)]
    names = [f"{what}{s}" for s in suffixes for what in ("digit", "direction", "speed")]
    return names, tuple(f"digit{s}" for s in suffixes), tuple(n for n in names if not n.startswith("digit"))


def source(cfg: Any, split: str) -> tuple[Path, str, str]:
    """The MNIST folder and the image and label files the split's digits come from."""
    try:
        folder = mnist.mnist_files(cfg.data_dir, download=False)
    except DataError as e:
        raise DataError(f"moving-mnist draws its digits from MNIST: {e}") from None
    prefix = "test" if split == "test" else "train"
    return folder, mnist.FILES[f"{prefix}_images"], mnist.FILES[f"{prefix}_labels"]


def split_digits(cfg: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST images (M, 28, 28) uint8 and labels (M,) of the split: train the first 50,000 training
    images, val the rest of them, test the test images."""
    folder, images, labels = source(cfg, split)
    x, y = mnist.read_pair(folder, images, labels)
    if split == "test":
        return x, y
    cut = mnist.N_TRAIN
    if len(x) <= cut:
        raise DataError(f"{folder / images}: {len(x)} images, need more than {cut} for the train/validation "
                              "digits of moving-mnist")
    return (x[:cut], y[:cut]) if split == "train" else (x[cut:], y[cut:])


def cache_key(cfg: Any, split: str, n: int, frames: int, size: int) -> str:
    """Every parameter that shapes the split's videos, as one JSON string; the digest of the MNIST files
    stands for the digits themselves."""
    folder, images, labels = source(cfg, split)
    digest = hashlib.sha256()
    for name in (images, labels):
        digest.update((folder / name).read_bytes())
    return json.dumps({"version": CACHE_VERSION, "split": split, "videos": n, "frames": frames, "size": size,
                       "digits": cfg.digits, "data_seed": cfg.data_seed, "cut": mnist.N_TRAIN,
                       "mnist": digest.hexdigest()}, sort_keys=True)


def cache_path(key: str) -> Path:
    split = json.loads(key)["split"]
    return mnist.cache_dir("moving-mnist") / f"{split}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"


def read_cache(path: Path, key: str, shape: tuple[int, ...], n_factors: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached videos and factors when `path` holds this very split (its stored key, shapes and dtypes);
    None when it is missing, and also, with one log line, when it is unreadable or another's."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            stored, x, factors = str(z["key"]), z["x"], z["factors"]
        if stored != key:
            raise ValueError("it was made with other parameters")
        if x.shape != shape or x.dtype != np.uint8:
            raise ValueError(f"videos {x.shape} {x.dtype}, expected {shape} uint8")
        if factors.shape != (shape[0], n_factors) or factors.dtype != np.int64:
            raise ValueError(f"factors {factors.shape} {factors.dtype}, expected {(shape[0], n_factors)} int64")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        log.warning("moving-mnist cache %s is not usable (%s): generating it again", path, e)
        return None
    return x, factors


def write_cache(path: Path, key: str, x: np.ndarray, factors: np.ndarray) -> None:
    """Write atomically: a temporary file in the same folder, renamed over `path` once complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, key=np.array(key), x=x, factors=factors)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def videos_of(cfg: Any, split: str, frames: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The split's videos (n, T, 1, S, S) uint8 and factors (n, F) int64, from the cache or made (and cached)."""
    n = len(split_indices(cfg.subset, cfg.val_fraction, cfg.data_seed, split))
    key = cache_key(cfg, split, n, frames, size)
    path = cache_path(key)
    shape = (n, frames, 1, size, size)
    cached = read_cache(path, key, shape, 3 * cfg.digits)
    if cached is not None:
        return cached
    images, labels = split_digits(cfg, split)
    x, factors = generate(images, labels, n, frames, size, cfg.digits, [cfg.data_seed, SPLITS.index(split)])
    try:
        write_cache(path, key, x, factors)
    except OSError as e:  # a read-only cache costs the generation next time, nothing else
        log.warning("cannot cache moving-mnist in %s: %s", path.parent, e.strerror or e)
    return x, factors


def load_moving_mnist(cfg: Any, split: str, stats: dict | None = None) -> Any:
    """The split's moving-MNIST videos (`VideoData`), grey or thresholded at 0.5 (--binarize static)."""
    from vaekit.kinds.videos.items import VideoData, binarized, frames_of, size_of

    frames, size = frames_of(cfg), size_of(cfg)
    x8, codes = videos_of(cfg, split, frames, size)
    x = binarized(torch.from_numpy(x8).float().div_(255.0), cfg.binarize)  # (n, T, 1, S, S)
    factors = torch.from_numpy(codes)
    names, content, motion = factor_layout(cfg.digits)
    return VideoData(x, factors[:, 0].clone(), binarize=cfg.binarize, label_names=[str(i) for i in range(10)],
                     factors=factors, factor_names=names, content_factors=content, motion_factors=motion)
