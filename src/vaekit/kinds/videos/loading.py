"""A video data set as the model reads it: x (N, T, C, H, W) float32 in [0, 1], every video T frames of C x S x S
pixels, with its labels (the content class) and its known factors, split into which describe what a video shows
(content) and which how it moves (motion).

The three data sets (`moving-shapes`, `moving-mnist`, `video`) each make their split here; the training split
records the videos' shape (frames, channels, side) and class names in `stats`, so that `load_video_path` reads
new videos exactly as the run's training data were read.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vaekit.data.base import TensorData, check_split
from vaekit.errors import ConfigError, DataError

DATASETS = ("moving-shapes", "moving-mnist", "video")
DEFAULT_FRAMES = {"moving-shapes": 8, "moving-mnist": 10, "video": 8}
DEFAULT_SIZE = {"moving-shapes": 32, "moving-mnist": 32, "video": 64}
# each data set's module of this package and its loader (cfg, split, stats) -> VideoData
LOADERS = {"moving-shapes": ("moving", "load_moving_shapes"), "moving-mnist": ("moving_mnist", "load_moving_mnist"),
           "video": ("files", "load_video_files")}


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
    _check_dataset(cfg)
    return cfg.frames or DEFAULT_FRAMES[cfg.dataset]


def size_of(cfg: Any) -> int:
    """--image-size, or the data set's default frame side."""
    _check_dataset(cfg)
    return cfg.image_size or DEFAULT_SIZE[cfg.dataset]


def _check_dataset(cfg: Any) -> None:
    if cfg.dataset not in DATASETS:
        raise ConfigError(f"data={cfg.dataset!r} is not a video data set ({', '.join(DATASETS)})")


def binarized(x: torch.Tensor, mode: str) -> torch.Tensor:
    """Frames as --binarize says: "static" thresholds them at 0.5 (one fixed binary video, the same for any
    seed); "none" and "dynamic" keep them grey ("dynamic" draws a Bernoulli sample of every batch later)."""
    return (x >= 0.5).to(x.dtype) if mode == "static" else x


def load_video_split(cfg: Any, split: str, stats: dict | None = None) -> VideoData:
    """A split of --data moving-shapes, moving-mnist or video. The training split without `stats` records the
    videos' shape and class names in its stats; every other split is checked against the training split's."""
    check_split(split)
    _check_dataset(cfg)
    module, loader = LOADERS[cfg.dataset]
    data = getattr(importlib.import_module(f"vaekit.kinds.videos.{module}"), loader)(cfg, split, stats)
    if stats is None:
        if split != "train":
            raise DataError(f"the {split} split of {cfg.dataset} needs the training split's data stats (the "
                            "videos' frames, channels and side)")
        stats = video_stats(data)
    elif tuple(data.event_shape) != event_shape_of(stats):
        raise DataError(f"the {split} split of {cfg.dataset} holds videos of shape {tuple(data.event_shape)}, the "
                        f"training split's were {event_shape_of(stats)} (T, C, H, W)")
    data.stats = stats
    data.label_names = stats.get("label_names")
    return data


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


def load_video_path(path: Path, cfg: Any, stats: dict | None = None) -> VideoData:
    """New videos for a trained model: a .gif / .mp4 file, a folder of them (plain, or one subfolder per class)
    or a .npy (N, T, C, H, W), read with the run's frames, channels and side (from `stats`, else from `cfg`)
    and its --frame-sampling and --binarize. Class subfolders named as the run's classes give those labels."""
    from vaekit.kinds.videos.files import read_path

    if stats is not None:
        t, c, s, _ = event_shape_of(stats)
    else:
        t, s = frames_of(cfg), size_of(cfg)
        c = {"moving-shapes": 3, "moving-mnist": 1}.get(cfg.dataset, cfg.channels or 3)
    data = read_path(Path(path), t, c, s, cfg.frame_sampling)
    known = (stats or {}).get("label_names") or []
    labels = None
    if data.labels is not None and data.label_names and set(data.label_names) <= set(known):
        labels = torch.tensor([known.index(data.label_names[i]) for i in data.labels], dtype=torch.int64)
    return dataclasses.replace(data, x=binarized(data.x, cfg.binarize), labels=labels,
                               label_names=known or None, binarize=cfg.binarize, stats=stats)
