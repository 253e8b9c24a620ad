"""What every video data set is made of: `VideoData` (x (N, T, C, H, W) float32 in [0, 1], every video T frames
of C x S x S pixels, with its labels, the content class, and its known factors, split into which describe what a
video shows (content) and which how it moves (motion)), the data sets' default shapes, --binarize on frames,
and the stats a training split records of itself (its shape and class names). The loaders (`moving`,
`moving_mnist`, `files`) build on it; `loading` picks one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch

from vaekit.data.base import TensorData
from vaekit.errors import ConfigError, DataError

DATASETS = ("moving-shapes", "moving-mnist", "video")
DEFAULT_FRAMES = {"moving-shapes": 8, "moving-mnist": 10, "video": 8}
DEFAULT_SIZE = {"moving-shapes": 32, "moving-mnist": 32, "video": 64}


@dataclass
class VideoData(TensorData):
    is_image: bool = False
    kind: str = "videos"
    factors: torch.Tensor | None = None      # (N, F) int64 codes of the known factors, or None
    factor_names: list[str] = field(default_factory=list)
    content_factors: tuple[str, ...] = ()    # the factor columns that say what a video shows
    motion_factors: tuple[str, ...] = ()     # ... and those that say how it moves
    files: list[str] | None = None           # where each video came from (None for generated videos)

    def take(self, n: int) -> VideoData:
        """The first n videos, with their factors and files."""
        return dataclasses.replace(super().take(n), factors=None if self.factors is None else self.factors[:n],
                                   files=None if self.files is None else self.files[:n])

    def select(self, idx: torch.Tensor) -> VideoData:
        """The videos at positions idx (M,) int64, in that order, with their factors and files."""
        return dataclasses.replace(super().select(idx),
                                   factors=None if self.factors is None else self.factors[idx],
                                   files=None if self.files is None else [self.files[int(i)] for i in idx])


def frames_of(cfg: Any) -> int:
    """--frames, or the data set's default T."""
    check_dataset(cfg)
    return cfg.frames or DEFAULT_FRAMES[cfg.dataset]


def size_of(cfg: Any) -> int:
    """--image-size, or the data set's default frame side."""
    check_dataset(cfg)
    return cfg.image_size or DEFAULT_SIZE[cfg.dataset]


def check_dataset(cfg: Any) -> None:
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"data={cfg.dataset!r} is not a video data set ({', '.join(DATASETS)})")


def binarized(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Frames as --binarize says: "static" thresholds them at 0.5 (one fixed binary video, the same for any
    seed); "none" and "dynamic" keep them grey ("dynamic" draws a Bernoulli sample of every batch later)."""
    return (x >= 0.5).to(x.dtype) if mode == "static" else x


def video_stats(data: VideoData) -> dict:
    """What later splits and new videos are read by: the shape of the training videos and the class names."""
    t, c, h, _ = data.event_shape
    return {"frames": t, "channels": c, "image_size": h, "label_names": data.label_names}


def event_shape_of(stats: dict) -> tuple[int, int, int, int]:
    """(T, C, S, S) from a run's data stats."""
    try:
        t, c, s = int(stats["frames"]), int(stats["channels"]), int(stats["image_size"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"the run's data stats {stats} do not give the videos' frames, channels and "
                        "image_size") from None
    return t, c, s, s
