"""`moving-shapes`: built-in videos of one sprite moving and bouncing, with known content and motion factors.

Each video shows one sprite of the `shapes` images (`vaekit.kinds.images.shapes.render_sprites`: square,
ellipse or heart) in one of six saturated colours (RGB channels 0 or 1, so the frames stay binary) at one of
three scales, on a black frame of --image-size pixels (32 by default), for --frames frames (8 by default). It
moves in one of the 8 compass directions at one of 3 speeds, bouncing off the borders (a mirror reflection of
its centre's path), and turns clockwise, counter-clockwise (pi/8 a frame) or not at all. Diagonal directions
step the speed in pixels along both axes, so every step is a whole number of pixels: a sprite that does not
turn keeps exactly its pixels from frame to frame, and its centre of mass moves by the velocity.

Factors per video: content = shape, colour, scale; motion = direction, speed, rotation; the label is the
shape. The start position is drawn uniformly over the positions that keep the sprite inside the frame. All
--subset videos are drawn from --data-seed and split train / val / test by `split_indices`; only the split's
videos are rendered, vectorised over all their frames (the 3,200 training videos of the defaults in 1.6 s).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from vaekit.data.base import split_indices
from vaekit.errors import ConfigError
from vaekit.kinds.images.shapes import RADIUS, SHAPES, render_sprites

COLOURS = ("red", "green", "blue", "yellow", "magenta", "cyan")
RGB = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
SCALES = (0.5, 0.7, 0.9)  # sprite half-size RADIUS * scale of the side: squares of 5, 7 and 10 px in 32 px
DIRECTIONS = ("E", "NE", "N", "NW", "W", "SW", "S", "SE")
# (column, row) step of each direction; rows grow downwards, so north is -1
STEPS = np.array([[1, 0], [1, -1], [0, -1], [-1, -1], [-1, 0], [-1, 1], [0, 1], [1, 1]], dtype=np.int64)
SPEEDS = (1, 2, 3)  # pixels a frame along each moving axis, in frames of up to 32 px (scaled with larger ones)
ROTATIONS = ("none", "clockwise", "counter-clockwise")
TURN = math.pi / 8  # radians a frame of a turning sprite
FACTOR_NAMES = ["shape", "colour", "scale", "direction", "speed", "rotation"]
CONTENT, MOTION = ("shape", "colour", "scale"), ("direction", "speed", "rotation")
LEVELS = (len(SHAPES), len(COLOURS), len(SCALES), len(DIRECTIONS), len(SPEEDS), len(ROTATIONS))
# the farthest point of any of the three shapes from its centre, in half-sizes (a square's corner: 0.8 sqrt 2)
REACH = 1.15


def bounce(start: np.ndarray, velocity: np.ndarray, frames: int, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(N, T, 2) positions of points moving from start (N, 2) by velocity (N, 2) a frame inside [low, high]
    (N, 2) per axis, reflected at the walls like a ball on a billiard table: the unbounded path folded by a
    triangle wave of period 2 (high - low). Integer inputs give integer positions."""
    t = np.arange(frames)[None, :, None]  # (1, T, 1)
    span = (high - low)[:, None, :]  # (N, 1, 2)
    free = start[:, None, :] - low[:, None, :] + velocity[:, None, :] * t  # (N, T, 2) the path without walls
    period = np.maximum(2 * span, 1)  # a zero span (no room to move) keeps the point still
    w = np.mod(free, period)
    return low[:, None, :] + np.where(w <= span, w, 2 * span - w)


def draw_factors(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n videos' factor codes (n, 6) in FACTOR_NAMES order and start centres (n, 2) (column, row) in pixels."""
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, k, n) for k in LEVELS], axis=1)  # (n, 6)
    low, high = walls(codes[:, 2], size)
    start = rng.integers(low, high + 1)  # (n, 2) uniform over the positions inside the walls
    return codes, start


def walls(scale_codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) each: the lowest and highest whole-pixel centre that keeps a sprite of each scale inside the frame
    at any rotation."""
    reach = np.ceil(REACH * RADIUS * np.asarray(SCALES)[scale_codes] * size).astype(np.int64)  # (n,)
    low = np.repeat(reach[:, None], 2, axis=1)
    return low, size - low


def speed_px(size: int) -> np.ndarray:
    """Pixels a frame of each speed level: SPEEDS in frames up to 32 px, a multiple of them in larger ones."""
    return np.asarray(SPEEDS, dtype=np.int64) * max(1, size // 32)


def render_videos(codes: np.ndarray, start: np.ndarray, frames: int, size: int) -> np.ndarray:
    """Videos (n, T, 3, S, S) float32 of the factor codes (n, 6) from start centres (n, 2) in pixels."""
    n = len(codes)
    low, high = walls(codes[:, 2], size)
    velocity = STEPS[codes[:, 3]] * speed_px(size)[codes[:, 4]][:, None]  # (n, 2) pixels a frame
    path = bounce(start, velocity, frames, low, high)  # (n, T, 2)
    # rows grow downwards, so a growing angle turns the sprite clockwise on the screen
    spin = np.array([0.0, TURN, -TURN])[codes[:, 5]]  # (n,)
    angle = spin[:, None] * np.arange(frames)[None, :]  # (n, T)
    masks = render_sprites(np.repeat(codes[:, 0], frames), np.repeat(np.asarray(SCALES)[codes[:, 2]], frames),
                           angle.reshape(-1), path[..., 0].reshape(-1) / size, path[..., 1].reshape(-1) / size,
                           size)  # (n T, 1, S, S): frame t of video i at row i T + t
    colours = np.repeat(RGB[codes[:, 1]], frames, axis=0)[:, :, None, None]  # (n T, 3, 1, 1)
    return (masks * colours).reshape(n, frames, 3, size, size)  # (n, T, 3, S, S)


def load_moving_shapes(cfg: Any, split: str, stats: dict | None = None) -> Any:
    """The split's videos of --subset moving sprites drawn from --data-seed (`VideoData`)."""
    from vaekit.kinds.videos.items import VideoData, binarized, frames_of, size_of

    frames, size = frames_of(cfg), size_of(cfg)
    if cfg.subset < 3:
        raise ConfigError(f"--subset {cfg.subset} is too small to split into train/val/test (need >= 3)")
    codes, start = draw_factors(cfg.subset, size, cfg.data_seed)
    idx = split_indices(cfg.subset, cfg.val_fraction, cfg.data_seed, split).numpy()
    codes, start = codes[idx], start[idx]
    x = torch.from_numpy(render_videos(codes, start, frames, size))
    factors = torch.from_numpy(codes.astype(np.int64))
    return VideoData(binarized(x, cfg.binarize), factors[:, 0].clone(), binarize=cfg.binarize,
                     label_names=list(SHAPES), factors=factors, factor_names=list(FACTOR_NAMES),
                     content_factors=CONTENT, motion_factors=MOTION)
