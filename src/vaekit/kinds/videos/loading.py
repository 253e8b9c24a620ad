"""A video data set as the model reads it: the three data sets (`moving-shapes`, `moving-mnist`, `video`) each
make their split here (`items.VideoData`); the training split records the videos' shape (frames, channels,
side) and class names in `stats`, so that `load_video_path` reads new videos exactly as the run's training data
were read.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from vaekit.data.base import check_split
from vaekit.errors import DataError
from vaekit.kinds.videos.items import (
    VideoData,
    binarized,
    check_dataset,
    event_shape_of,
    frames_of,
    size_of,
    video_stats,
)


def _loader(dataset: str) -> Any:
    """The loader (cfg, split, stats) -> VideoData of a data set, imported when it is asked for."""
    if dataset == "moving-shapes":
        from vaekit.kinds.videos.moving import load_moving_shapes

        return load_moving_shapes
    if dataset == "moving-mnist":
        from vaekit.kinds.videos.moving_mnist import load_moving_mnist

        return load_moving_mnist
    from vaekit.kinds.videos.files import load_video_files

    return load_video_files


def load_video_split(cfg: Any, split: str, stats: dict | None = None) -> VideoData:
    """A split of --data moving-shapes, moving-mnist or video. The training split without `stats` records the
    videos' shape and class names in its stats; every other split is checked against the training split's."""
    check_split(split)
    check_dataset(cfg)
    data = _loader(cfg.dataset)(cfg, split, stats)
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
