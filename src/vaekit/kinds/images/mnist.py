"""MNIST from the four standard gzipped IDX files: lookup, download with checksums, strict parsing.

Lookup order: --data-dir, then $VAEKIT_DATA/mnist, then the user cache ($XDG_CACHE_HOME/vaekit/mnist);
when none has the files, download them into the cache (sha256 of each .gz checked). Splits follow
the classic protocol: train = first 50,000 training images, val = last 10,000, test = the 10k test set.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, binarize, check_split
from vaekit.errors import ConfigError, DataError

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
# sha256 of the .gz files as the public mirrors serve them (the digests TensorFlow Datasets and others publish).
MIRROR_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
N_TRAIN = 50_000  # the first 50k training images; the last 10k are the validation set


def cache_dir(name: str = "mnist") -> Path:
    """vaekit's folder `name` in the user cache ($XDG_CACHE_HOME, else ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vaekit" / name


def candidate_dirs(data_dir: str | None) -> list[Path]:
    dirs: list[Path] = []
    if data_dir:
        dirs += [Path(data_dir), Path(data_dir) / "mnist"]
    if os.environ.get("VAEKIT_DATA"):
        dirs.append(Path(os.environ["VAEKIT_DATA"]) / "mnist")
    dirs.append(cache_dir())
    return dirs


def _has_all(d: Path) -> bool:
    return all((d / name).is_file() for name in FILES.values())


def mnist_files(data_dir: str | None = None, *, download: bool = True, mirrors: Sequence[str] = MIRRORS,
                digests: dict[str, str] | None = None, timeout: float = 20.0) -> Path:
    """The folder that holds the four files; downloads them into the user cache when none does."""
    where = "\n  ".join(str(d) for d in candidate_dirs(data_dir))
    missing_msg = (f"MNIST files not found. Put {', '.join(FILES.values())} in one of:\n  {where}\n"
                   "(--data-dir DIR or VAEKIT_DATA=DIR with DIR/mnist/)")
    if data_dir and not Path(data_dir).is_dir():  # an explicit --data-dir must exist (no silent fallback)
        raise DataError(f"--data-dir {data_dir} does not exist. {missing_msg}")
    for d in candidate_dirs(data_dir):
        if _has_all(d):
            return d
    if not download:
        raise DataError(missing_msg)
    target = cache_dir()
    for name in FILES.values():
        if not (target / name).is_file():
            download_file(name, target, mirrors, (digests or MIRROR_SHA256)[name], timeout, missing_msg)
    return target


def download_file(name: str, target: Path, mirrors: Sequence[str], sha256: str, timeout: float,
                  offline_msg: str) -> Path:
    """Fetch `name` from the first mirror that serves it with the right sha256; write atomically."""
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                payload = resp.read()
        except (OSError, http.client.HTTPException) as e:  # HTTPException: IncompleteRead, BadStatusLine
            errors.append(f"{url}: {e}")
            continue
        got = hashlib.sha256(payload).hexdigest()
        if got != sha256:
            raise DataError(f"checksum mismatch for {name} from {url}: sha256 {got}, expected {sha256}; "
                            "nothing was saved")
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
            os.replace(tmp, target / name)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return target / name
    raise DataError(f"could not download {name} (offline?):\n  " + "\n  ".join(errors) + f"\n{offline_msg}")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse a gzipped IDX file strictly: magic number, dimensions, exact payload size.

    The header is read first, then the payload in chunks up to one byte past what the header promises:
    a stream longer than its header (e.g. a gzip bomb) stops there instead of filling memory."""
    try:
        with gzip.open(path, "rb") as f:
            return _parse_idx(f, path, magic)
    except FileNotFoundError:
        raise DataError(f"{path} is missing") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable gzip file (corrupted or truncated): {e}") from None
    except OSError as e:  # permissions, a folder in the file's place, I/O errors
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None


def _parse_idx(f: BinaryIO, path: Path, magic: int) -> np.ndarray:
    head = _read_upto(f, 4)
    if len(head) == 4:
        got = int.from_bytes(head, "big")
        if got != magic:  # the last byte is the number of dimensions, so this checks it too
            raise DataError(f"{path}: wrong IDX magic number {got}, expected {magic}")
        ndim = head[3]
        head += _read_upto(f, 4 * ndim)
    if len(head) < 8 or len(head) < 4 + 4 * head[3]:
        raise DataError(f"{path} is truncated: {len(head)} bytes, too short for an IDX header")
    dims = [int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(head[3])]
    expected = len(head) + math.prod(dims)  # math.prod: numpy's int64 product wraps around for huge dims
    payload = _read_upto(f, expected - len(head) + 1)
    got = len(head) + len(payload)
    if got < expected:
        raise DataError(f"{path}: {got} bytes, but its header {dims} promises {expected} (truncated?)")
    if got > expected:
        raise DataError(f"{path}: longer than the {expected} bytes its header {dims} promises")
    try:
        return np.frombuffer(payload, dtype=np.uint8).reshape(dims)
    except ValueError:  # e.g. [0, 2**31, 2**31]: an empty payload matches, but numpy refuses the shape's extent
        raise DataError(f"{path}: its header's dimensions {dims} are not a valid array shape") from None


def _read_upto(f: BinaryIO, n: int, chunk: int = 1 << 20) -> bytes:
    """At most n bytes, fewer at the end of the stream; read in chunks, so a huge n allocates nothing."""
    parts, left = [], n
    while left > 0:
        part = f.read(min(chunk, left))
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def read_pair(folder: Path, images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(folder / images, IMAGES_MAGIC)
    y = read_idx(folder / labels, LABELS_MAGIC)
    if x.ndim != 3 or y.ndim != 1:
        raise DataError(f"{folder / images}: expected (N, H, W) images and (N,) labels, got {x.shape}, {y.shape}")
    if x.shape[1:] != (28, 28):  # --image-size is fixed at 28 for MNIST; other sizes would build another model
        raise DataError(f"{folder / images}: images of {x.shape[1]}x{x.shape[2]} pixels, expected 28x28")
    if len(x) == 0:
        raise DataError(f"{folder / images} holds no images")
    if len(x) != len(y):
        raise DataError(f"{folder}: {images} has {len(x)} images but {labels} has {len(y)} labels")
    if y.max() > 9:
        bad = int(np.argmax(y > 9))
        raise DataError(f"{folder / labels}: label {int(y[bad])} of item {bad} is not a digit 0-9")
    return x, y


def load_mnist(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData:
    check_split(split)
    if cfg.image_size not in (None, 28):
        raise ConfigError(f"--image-size {cfg.image_size}: MNIST images are 28x28")
    folder = mnist_files(cfg.data_dir)
    prefix = "test" if split == "test" else "train"
    x, y = read_pair(folder, FILES[f"{prefix}_images"], FILES[f"{prefix}_labels"])
    if split != "test":
        if len(x) <= N_TRAIN:
            raise DataError(f"{folder / FILES['train_images']}: {len(x)} images, need more than {N_TRAIN} "
                            "for the 50k/10k train/validation split")
        x, y = (x[:N_TRAIN], y[:N_TRAIN]) if split == "train" else (x[N_TRAIN:], y[N_TRAIN:])
    images = torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1)  # (N, 1, 28, 28)
    mode = cfg.binarize
    if mode == "static":  # one fixed draw, seeded per split so the splits' draws are independent
        gen = torch.Generator().manual_seed(cfg.data_seed * 3 + ("train", "val", "test").index(split))
        images = binarize(images, gen)
    return TensorData(images, torch.from_numpy(y.astype(np.int64)), binarize=mode,
                      label_names=[str(i) for i in range(10)])
