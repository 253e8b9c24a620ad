"""`folder`: a directory of images (PNG, JPEG, ...), optionally one subfolder per class.

Each image is converted to grayscale or RGB, resized so its shorter side is --image-size, and
centre-cropped square. In memory by default; with in_memory=False, `LazyImageData` decodes each
image on access (in DataLoader workers) so the data need not fit in memory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, binarize, check_split, split_indices
from vaekit.errors import ConfigError, DataError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


def list_images(root: Path) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """Image files under root (sorted); with class subfolders also their labels and class names."""
    from vaekit.data.locate import labelled_files

    return labelled_files(root, EXTENSIONS, "image folder", "images")


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """Decode, convert, take the centred square and resize it to `size`: (C, size, size) float32 in [0, 1]."""
    return fit_square(_decode(path, "L" if channels == 1 else "RGB"), size, channels, path)


def fit_square(im: Image.Image, size: int, channels: int, path: Path) -> np.ndarray:
    """A decoded image in mode L (channels 1) or RGB (3), its centred square resized to `size`: (C, size, size)
    float32 in [0, 1]. `path` names the image in errors."""
    w, h = im.size
    if min(w, h) == 0:
        raise DataError(f"cannot read image {path}: it is {w}x{h} pixels")
    # the centred square scaled straight to size x size (resize's box): scaling the whole image first made a
    # 1 x 10^7 image 8 x 8*10^7 pixels (a MemoryError, found by fuzzing)
    m = min(w, h)
    left, top = (w - m) / 2, (h - m) / 2
    im = im.resize((size, size), Image.Resampling.LANCZOS, box=(left, top, left + m, top + m))
    arr = np.asarray(im, dtype=np.float32) / 255.0
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def _decode(path: Path, mode: str) -> Image.Image:
    """The decoded image in `mode`. Any exception of the decoder is a bad file: Pillow raises many kinds
    (OSError, ValueError, SyntaxError, struct.error, IndexError, ...) on crafted or damaged bytes."""
    try:
        with warnings.catch_warnings():  # the size check below says it as an error instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                limit = Image.MAX_IMAGE_PIXELS
                if limit and im.width * im.height > limit:  # checked before decoding anything
                    raise DataError(f"cannot read image {path}: {im.width}x{im.height} pixels exceed the "
                                    f"decompression-bomb limit of {limit} pixels (PIL.Image.MAX_IMAGE_PIXELS)")
                return _to_8bit(im).convert(mode)
    except Image.DecompressionBombError as e:  # Pillow's own check (at twice the limit), in Image.open
        raise DataError(f"cannot read image {path}: {e}") from None
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"cannot read image {path}: it does not fit in memory") from None
    except Exception as e:  # see the docstring
        raise DataError(f"cannot read image {path}: {e or type(e).__name__}") from None


def _to_8bit(im: Image.Image) -> Image.Image:
    """16-bit grayscale (PNG, TIFF) scaled to 8 bits: Pillow's convert("L") clips it at 255 instead."""
    if im.mode.startswith("I;16") or (im.mode == "I" and im.getextrema()[1] > 255):
        arr = np.asarray(im, dtype=np.float64) / 257.0
        return Image.fromarray(np.clip(arr.round(), 0, 255).astype(np.uint8), "L")
    return im


@dataclass
class LazyImageData(torch.utils.data.Dataset):
    """Images decoded on access; iterate_batches serves it through a DataLoader."""

    files: list[Path]
    labels: list[int] | None
    size: int
    channels: int
    binarize: str = "none"
    workers: int = 0
    label_names: list[str] | None = None
    is_image: bool = True
    stats: dict | None = None

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.channels, self.size, self.size)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int | None]:
        x = torch.from_numpy(read_image(self.files[i], self.size, self.channels))
        return x, None if self.labels is None else self.labels[i]

    def materialize(self, n: int | None = None) -> TensorData:
        """Decode the first n images (all by default) into one tensor."""
        n = len(self) if n is None else min(n, len(self))
        x = torch.stack([self[i][0] for i in range(n)]) if n else torch.empty(0, *self.event_shape)
        y = None if self.labels is None else torch.tensor(self.labels[:n], dtype=torch.int64)
        return TensorData(x, y, binarize=self.binarize, label_names=self.label_names)

    def take(self, n: int) -> TensorData:
        return self.materialize(n)

    def select(self, idx: torch.Tensor) -> TensorData:
        """The images at positions idx (M,) int64, decoded into one tensor."""
        x = torch.stack([self[i][0] for i in idx.tolist()]) if len(idx) else torch.empty(0, *self.event_shape)
        y = None if self.labels is None else torch.tensor([self.labels[i] for i in idx.tolist()], dtype=torch.int64)
        return TensorData(x, y, binarize=self.binarize, label_names=self.label_names)


def load_folder(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData | LazyImageData:
    check_split(split)
    files, labels, classes = list_images(Path(cfg.data_dir or ""))
    if len(files) < 3:
        raise DataError(f"image folder {cfg.data_dir} has {len(files)} images; need at least 3 to split")
    try:
        idx = split_indices(len(files), cfg.val_fraction, cfg.data_seed, split).tolist()
    except DataError as e:  # e.g. 4 images with val_fraction 0.45: name the folder
        raise DataError(f"image folder {cfg.data_dir}: {e}") from None
    lazy = LazyImageData([files[i] for i in idx], None if labels is None else [labels[i] for i in idx],
                         cfg.image_size or 64, cfg.channels or 3, cfg.binarize, cfg.workers, classes)
    if not cfg.in_memory:
        if cfg.binarize == "static":
            raise ConfigError("--binarize static draws one fixed sample of the whole split: it needs --in-memory true "
                              "(use --binarize dynamic with lazily decoded images)")
        return lazy
    data = lazy.materialize()
    if cfg.binarize == "static":
        data.x = binarize(data.x, torch.Generator().manual_seed(cfg.data_seed))
    return data


def load_image_path(path: Path, cfg: DataConfig) -> TensorData:
    """One image file or a folder of them, converted as the run's data config says."""
    if path.is_dir():
        files, labels, classes = list_images(path)
        lazy = LazyImageData(files, labels, cfg.image_size or 64, cfg.channels or 3, cfg.binarize,
                             label_names=classes)
        return lazy.materialize()
    x = torch.from_numpy(read_image(path, cfg.image_size or 64, cfg.channels or 3))[None]
    return TensorData(x, None, binarize=cfg.binarize)
