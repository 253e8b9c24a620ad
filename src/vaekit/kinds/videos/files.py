"""`video`: a user's videos. --data-dir is a folder of .gif / .mp4 files (one subfolder per class gives labels,
classes in sorted order, as the image folder does; plain files have none), or a .npy array (N, T, C, H, W),
uint8 in 0-255 or float in [0, 1] (no labels).

Every video becomes T = --frames frames (8 by default), the first T (--frame-sampling first) or T spread
evenly over the whole video (spread); a video of fewer frames is refused, naming its file (it is not looped).
GIF frames are decoded by Pillow (each frame as shown, composed over the earlier ones), MP4 frames by PyAV
(FFmpeg). Each frame is converted to --channels (3 by default: RGB; 1: grey) and its centred square resized
to --image-size pixels (64 by default) as the image folder resizes images (`fit_square`: Lanczos). The
videos of a .npy keep their own number of frames, channels and side unless --frames, --channels or
--image-size say otherwise (its frames' centred square is then resized by antialiased bilinear
interpolation). The training split's shape is the run's: its other splits, and new videos (`read_path`),
are read to the same.

Refused, each naming the file: a file the decoder cannot read, a video of 0 frames or of frames of mixed
sizes, a declared size beyond MAX_SIDE pixels or MAX_FRAMES frames (checked before any frame is decoded),
a .npy that is not (N, T, C, H, W) with C 1 or 3, not uint8 or float, or holds NaN or values outside [0, 1].
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaekit.data.base import split_indices
from vaekit.errors import DataError

VIDEO_FILES = (".gif", ".mp4")
MAX_SIDE = 8192        # pixels a side: larger declared frames are refused before decoding
MAX_FRAMES = 100_000   # frames of one video, likewise
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as Pillow's convert("L")


def list_videos(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """The .gif / .mp4 files under root (sorted); with class subfolders also their labels and class names."""
    from vaekit.data.locate import labelled_files

    return labelled_files(root, VIDEO_FILES, "video folder", "videos")


def frame_indices(n: int | None, frames: int, sampling: str, path: Path) -> list[int]:
    """Which of a video's n frames to keep: the first T, or T spread evenly from the first to the last.
    n None (not known before decoding) takes the first T."""
    if n is not None and n == 0:
        raise DataError(f"video {path} holds no frames")
    if n is not None and n < frames:
        raise DataError(f"video {path} has {n} frames, fewer than --frames {frames}")
    if sampling == "spread" and n is not None:
        return np.floor(np.arange(frames) * (n - 1) / max(frames - 1, 1) + 0.5).astype(np.int64).tolist()
    return list(range(frames))


def check_declared(path: Path, width: int, height: int, frames: int | None) -> None:
    """Refuse absurd sizes before anything is decoded (a crafted header can declare any size)."""
    if width > MAX_SIDE or height > MAX_SIDE:
        raise DataError(f"video {path} declares frames of {width}x{height} pixels, more than {MAX_SIDE} a side")
    if frames is not None and frames > MAX_FRAMES:
        raise DataError(f"video {path} declares {frames} frames, more than {MAX_FRAMES}")


def read_video(path: Path, frames: int, channels: int, size: int, sampling: str) -> np.ndarray:
    """One .gif / .mp4 file as (T, C, size, size) float32 in [0, 1]."""
    from vaekit.kinds.images.folder import fit_square

    mode = "L" if channels == 1 else "RGB"
    decode = {".gif": _gif_frames, ".mp4": _mp4_frames}.get(path.suffix.lower())
    if decode is None:
        raise DataError(f"{path}: not a video file ({', '.join(VIDEO_FILES)})")
    images = decode(path, frames, sampling, mode)
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        raise DataError(f"video {path} has frames of mixed sizes: {', '.join(f'{w}x{h}' for w, h in sorted(sizes))}")
    return np.stack([fit_square(im, size, channels, path) for im in images])


def _gif_frames(path: Path, frames: int, sampling: str, mode: str) -> list[Any]:
    """The kept frames of a GIF as Pillow images in `mode`. Any exception of the decoder is a bad file (as in
    `vaekit.kinds.images.folder`)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                check_declared(path, im.width, im.height, None)
                n = im.n_frames  # reads the frames' headers and skips their data: nothing is decoded
                check_declared(path, im.width, im.height, n)
                out = []
                for i in frame_indices(n, frames, sampling, path):
                    im.seek(i)
                    out.append(im.convert(mode))
                return out
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"cannot read video {path}: it does not fit in memory") from None
    except Exception as e:
        raise DataError(f"cannot read video {path}: {e or type(e).__name__}") from None


def _mp4_frames(path: Path, frames: int, sampling: str, mode: str) -> list[Any]:
    """The kept frames of an MP4 (or any container FFmpeg reads) as Pillow images in `mode`, by PyAV."""
    try:
        import av
    except ImportError:
        raise DataError(f"reading {path} needs PyAV: pip install av (or vaekit[videos])") from None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"video {path} holds no frames (it has no video stream)")
            stream = container.streams.video[0]
            declared = stream.frames or None  # 0: the container does not say
            check_declared(path, stream.codec_context.width, stream.codec_context.height, declared)
            wanted = frame_indices(declared, frames, sampling, path)
            keep, out, count = set(wanted), [], 0
            for frame in container.decode(stream):
                if count >= MAX_FRAMES:
                    raise DataError(f"video {path} has more than {MAX_FRAMES} frames")
                if count in keep:
                    out.append(frame.to_image().convert(mode))
                count += 1
                if len(out) == len(wanted):
                    break
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"cannot read video {path}: it does not fit in memory") from None
    except Exception as e:  # av.error.FFmpegError and its kinds (InvalidDataError, ...), and the rest
        raise DataError(f"cannot read video {path}: {e or type(e).__name__}") from None
    if len(out) < len(wanted):
        frame_indices(count, frames, "first", path)  # 0 or fewer than T frames: says so
        raise DataError(f"video {path} declares {declared} frames but holds {count}")
    return out


def resize_square(x: torch.Tensor, size: int) -> torch.Tensor:
    """Frames (M, C, H, W) float: their centred square resized to (M, C, size, size) by antialiased bilinear
    interpolation (unchanged when already that size)."""
    h, w = x.shape[-2:]
    m = min(h, w)
    top, left = (h - m) // 2, (w - m) // 2
    x = x[..., top:top + m, left:left + m]  # (M, C, m, m)
    if m == size:
        return x
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                           align_corners=False)


def open_npy(path: Path) -> np.ndarray:
    """A .npy of videos (N, T, C, H, W), memory-mapped: only its header is read here, and checked."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read {path} as a .npy array: {e}") from None
    if not isinstance(arr, np.ndarray) or arr.ndim != 5:
        raise DataError(f"{path}: expected videos (N, T, C, H, W), got an array of shape {getattr(arr, 'shape', '?')}")
    n, t, c, h, w = arr.shape
    if c not in (1, 3):
        raise DataError(f"{path}: videos (N, T, C, H, W) of C = 1 or 3 channels, got shape {arr.shape}")
    if arr.dtype != np.uint8 and arr.dtype.kind != "f":
        raise DataError(f"{path}: videos must be uint8 (0-255) or float (0-1), got {arr.dtype}")
    check_declared(path, w, h, t)
    if n == 0 or t == 0 or h == 0 or w == 0:
        raise DataError(f"{path} holds no frames: shape {arr.shape}")
    return arr


def npy_videos(arr: np.ndarray, path: Path, idx: np.ndarray, frames: int, channels: int, size: int,
               sampling: str) -> torch.Tensor:
    """The videos idx of a .npy (`open_npy`) as (M, T, C, size, size) float32 in [0, 1]."""
    keep = frame_indices(arr.shape[1], frames, sampling, path)
    x = torch.from_numpy(np.ascontiguousarray(arr[idx][:, keep]))  # (M, T, C, H, W)
    if x.dtype == torch.uint8:
        x = x.float().div_(255.0)
    else:
        x = x.float()
        bad = ~torch.isfinite(x) | (x < 0) | (x > 1)
        if bad.any():
            where = tuple(int(i) for i in bad.nonzero()[0])
            raise DataError(f"{path}: values must be finite and in [0, 1]; video {int(idx[where[0]])} holds "
                            f"{float(x[where])} at (t, c, h, w) = {where[1:]}")
    m, t, c, h, w = x.shape
    if c != channels:
        x = (x * torch.tensor(LUMA).view(1, 1, 3, 1, 1)).sum(2, keepdim=True) if channels == 1 else x.expand(
            -1, -1, 3, -1, -1)
    return resize_square(x.reshape(m * t, channels, h, w), size).reshape(m, t, channels, size, size).contiguous()


def shape_for(cfg: Any, stats: dict | None, arr: np.ndarray | None = None) -> tuple[int, int, int]:
    """(T, C, S) to read videos to: the training split's (`stats`), else --frames, --channels and --image-size,
    whose defaults are a .npy's own frames, channels and (square) side, else 8, 3 and 64."""
    from vaekit.kinds.videos.items import event_shape_of, frames_of, size_of

    if stats is not None:
        t, c, s, _ = event_shape_of(stats)
        return t, c, s
    if arr is None:
        return frames_of(cfg), cfg.channels or 3, size_of(cfg)
    own_s = arr.shape[3] if arr.shape[3] == arr.shape[4] else None
    return cfg.frames or arr.shape[1], cfg.channels or arr.shape[2], cfg.image_size or own_s or size_of(cfg)


def load_video_files(cfg: Any, split: str, stats: dict | None = None) -> Any:
    """The split (`split_indices` of --data-seed) of --data-dir: a folder of .gif / .mp4 files or a .npy."""
    from vaekit.kinds.videos.items import VideoData, binarized

    root = Path(cfg.data_dir or "")
    if root.is_file() and root.suffix.lower() == ".npy":
        arr = open_npy(root)
        t, c, s = shape_for(cfg, stats, arr)
        idx = _split(len(arr), cfg, split, root)
        data = VideoData(npy_videos(arr, root, idx, t, c, s, cfg.frame_sampling))
    elif root.is_dir():
        files, labels, classes = list_videos(root)
        t, c, s = shape_for(cfg, stats)
        idx = _split(len(files), cfg, split, root)
        data = _folder_videos(files, labels, classes, idx, (t, c, s, cfg.frame_sampling))
    else:
        raise DataError(f"--data-dir {cfg.data_dir}: expected a folder of {' / '.join(VIDEO_FILES)} files or a .npy "
                        "(N, T, C, H, W) file")
    data.x = binarized(data.x, cfg.binarize)
    data.binarize = cfg.binarize
    return data


def _folder_videos(files: list[Path], labels: list[int] | None, classes: list[str] | None, idx: np.ndarray,
                   how: tuple[int, int, int, str]) -> Any:
    """The videos files[idx] read as `how` = (frames, channels, size, sampling) says (`read_video`), with their
    labels and files."""
    from vaekit.kinds.videos.items import VideoData

    x = torch.from_numpy(np.stack([read_video(files[i], *how) for i in idx]))  # (M, T, C, S, S)
    y = None if labels is None else torch.tensor([labels[i] for i in idx], dtype=torch.int64)
    return VideoData(x, y, label_names=classes, files=[str(files[i]) for i in idx])


def _split(n: int, cfg: Any, split: str, root: Path) -> np.ndarray:
    if n < 3:
        raise DataError(f"{root} holds {n} videos; need at least 3 to split into train/val/test")
    try:
        return split_indices(n, cfg.val_fraction, cfg.data_seed, split).numpy()
    except DataError as e:
        raise DataError(f"{root}: {e}") from None


def read_path(path: Path, frames: int, channels: int, size: int, sampling: str) -> Any:
    """Every video of a .gif / .mp4 file, a folder of them or a .npy, read to (T, C, S): `VideoData` with the
    folder's class labels (indices into its own sorted class names), grey or colour as read."""
    from vaekit.kinds.videos.items import VideoData

    if path.is_dir():
        files, labels, classes = list_videos(path)
        return _folder_videos(files, labels, classes, np.arange(len(files)), (frames, channels, size, sampling))
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.suffix.lower() == ".npy":
        arr = open_npy(path)
        return VideoData(npy_videos(arr, path, np.arange(len(arr)), frames, channels, size, sampling))
    return VideoData(torch.from_numpy(read_video(path, frames, channels, size, sampling))[None], files=[str(path)])
