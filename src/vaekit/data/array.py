"""`array`: non-image data from a .npy / .npz of shape (N, ...) (tabular rows, audio frames).

Standardised per feature with the train split's mean and std, which the run stores
(data_stats.json) so that new inputs are transformed the same way. With in_memory=False a .npy is
read from disk batch by batch (`vaekit.data.stream`), so it need not fit in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaekit.config import DataConfig
from vaekit.data.base import TensorData, check_split, split_indices
from vaekit.errors import DataError

NPY_MAGIC, ZIP_MAGICS = b"\x93NUMPY", (b"PK\x03\x04", b"PK\x05\x06")  # a .npz is a zip (PK\5\6: an empty one)
NUMERIC_KINDS = "biuf"  # bool, int, uint, float; not complex (c), timedelta (m, an integer subtype!), datetime (M)


@dataclass(frozen=True)
class NpyHeader:
    """What a .npy header declares, checked against the file's size."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int  # where the data starts


def file_kind(path: Path) -> str:
    """'npy' or 'npz' from the file's first bytes (not its name); anything else is refused here.

    Without this, np.load treats unknown bytes as a pickle and says "pickled data" about random bytes."""
    if not path.is_file():
        raise DataError(f"array file {path} does not exist or is not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise DataError(f"cannot read array file {path}: {e.strerror or e}") from None
    if head == NPY_MAGIC:
        return "npy"
    if head[:4] in ZIP_MAGICS:
        return "npz"
    if not head:
        raise DataError(f"array file {path} is empty")
    if head[:1] == b"\x80":  # pickle protocol 2+ opcode PROTO: np.save(..., allow_pickle=True) of a list
        raise DataError(f"array file {path} is a pickle; vaekit does not load pickled data (allow_pickle=False): "
                        "save a numeric array with np.save")
    raise DataError(f"array file {path} is not a .npy or .npz file (its first bytes are {head!r})")


def read_npy_header(path: Path) -> NpyHeader:
    """Parse and check a .npy header without reading the data: dtype, shape, and size against the file's."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unknown .npy format version {version}")
            # 3.0 differs from 2.0 only by a UTF-8 header, which matters for structured field names alone
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read(f)
            offset = f.tell()
    except Exception as e:  # numpy parses the header text with tokenize and ast: TokenError, SyntaxError,
        # RecursionError, ... besides ValueError (found by fuzzing: a cut "'shape':[(" escaped as TokenError)
        raise DataError(f"cannot read array file {path}: its .npy header is malformed ({type(e).__name__}: "
                        f"{e})") from None
    if any(d < 0 for d in shape):
        raise DataError(f"cannot read array file {path}: its .npy header declares a negative shape {shape}")
    if dtype.hasobject:
        raise DataError(f"array file {path} holds pickled Python objects (dtype {dtype}); vaekit loads arrays "
                        "without pickled objects (allow_pickle=False)")
    promised = math.prod(shape) * dtype.itemsize
    size = path.stat().st_size - offset
    if size != promised:
        raise DataError(f"array file {path}: its header declares shape {shape} of {dtype} ({promised} bytes of data), "
                        f"but the file holds {size} (truncated or corrupted?)")
    return NpyHeader(tuple(shape), dtype, fortran_order, offset)


def read_array(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """x (N, ...) and optional labels y (N,) from a .npy or .npz (keys 'x' and 'y', or its only array)."""
    kind = file_kind(path)
    if kind == "npy":
        check_layout(path, read_npy_header(path))
    y = None
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):  # members are read lazily: inside the try too
            with loaded:
                x, y = _npz_members(path, loaded)
        else:
            x = loaded
    except DataError:
        raise
    except MemoryError:  # a zip member whose header declares more than this machine has
        raise DataError(f"array file {path} declares an array larger than the available memory") from None
    except Exception as e:  # ValueError, BadZipFile, zlib.error, EOFError, and the header parser's (see above)
        raise DataError(f"cannot read array file {path} (expected .npy or .npz without pickled objects): "
                        f"{type(e).__name__}: {e}") from None
    check_array(path, x, y)
    return x, y


def _npz_members(path: Path, npz: np.lib.npyio.NpzFile) -> tuple[np.ndarray, np.ndarray | None]:
    keys = list(npz.keys())
    if "x" in keys:
        x, y = npz["x"], (npz["y"] if "y" in keys else None)
    elif len(keys) == 1:
        x, y = npz[keys[0]], None
    else:
        raise DataError(f"{path}: an .npz needs a key 'x' (and optionally 'y'); it has {keys}")
    for name, member in (("x", x), ("y", y)):
        if member is not None and not isinstance(member, np.ndarray):  # np.load returns other members as bytes
            raise DataError(f"{path}: member {name!r} is not a .npy array inside the .npz")
    return x, y


def check_layout(path: Path, header: NpyHeader) -> None:
    """Shape and dtype rules, checkable from a header alone (the streaming path reads no data here)."""
    shape, dtype = header.shape, header.dtype
    if len(shape) < 2 or shape[0] < 2 or math.prod(shape[1:]) == 0:
        raise DataError(f"{path}: expected shape (N, ...) with N >= 2 items of >= 1 value, got {shape}")
    if dtype.kind not in NUMERIC_KINDS:
        what = "complex, which is not supported" if dtype.kind == "c" else "not numeric"
        raise DataError(f"{path}: dtype {dtype} is {what} (expected bool, integer or float)")


def check_array(path: Path, x: np.ndarray, y: np.ndarray | None) -> None:
    check_layout(path, NpyHeader(x.shape, x.dtype, False, 0))
    if x.dtype.kind == "f":
        bad = ~np.isfinite(x)
        if bad.any():
            first = int(np.argwhere(bad.reshape(len(x), -1).any(1))[0, 0])
            raise DataError(f"{path}: {int(bad.sum())} NaN/inf values (first in item {first})")
    if y is not None:
        check_labels(path, y, len(x))


def check_labels(path: Path, y: np.ndarray, n: int) -> None:
    if y.dtype.kind not in NUMERIC_KINDS:
        raise DataError(f"{path}: labels of dtype {y.dtype} are not numeric (expected bool, integer or float)")
    if y.ndim not in (1, 2) or len(y) != n:
        raise DataError(f"{path}: {n} items but {len(y) if y.ndim else 'scalar'} labels (expected shape ({n},) "
                        f"or ({n}, F), got {y.shape})")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{path}: labels hold NaN/inf values")
    if y.dtype.kind == "f" and y.size and np.abs(y).max() > np.finfo(np.float32).max:  # found by fuzzing
        raise DataError(f"{path}: label {np.abs(y).max()} is beyond float32, in which labels are held")
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        raise DataError(f"{path}: label {y.max()} does not fit in int64")


def label_tensor(y: np.ndarray) -> torch.Tensor:
    """Class labels as int64, factors as float32 (as TensorData documents); torch lacks most uint types."""
    return torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32 if y.dtype.kind == "f" else np.int64))


def standardize(x: np.ndarray, stats: dict) -> np.ndarray:
    mean, std = np.asarray(stats["mean"], np.float64), np.asarray(stats["std"], np.float64)
    if mean.shape != x.shape[1:]:
        raise DataError(f"data items have shape {x.shape[1:]}, the run's statistics {mean.shape}")
    with np.errstate(over="ignore", invalid="ignore"):
        return ((x - mean) / std).astype(np.float32)


def compute_stats(x: np.ndarray, path: Path) -> dict:
    with np.errstate(over="ignore", invalid="ignore"):
        mean = x.astype(np.float64).mean(0)
        std = x.astype(np.float64).std(0)
    return finish_stats(mean, std, path)


def finish_stats(mean: np.ndarray, std: np.ndarray, path: Path) -> dict:
    """JSON-ready statistics; a constant feature is only centred. Values near the float64 limit overflow
    the sums: refused here rather than turned into NaN inputs."""
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise DataError(f"{path}: values too large to standardise (their mean or std overflows float64)")
    std = std.copy()
    # constant features, also those constant up to float32 resolution (a subnormal std turned the next split's
    # ordinary values into inf, found by fuzzing): only centred
    std[std < np.finfo(np.float32).tiny] = 1.0
    return {"mean": mean.tolist(), "std": std.tolist()}


def _standardized_tensor(path: Path, x: np.ndarray, stats: dict) -> torch.Tensor:
    z = standardize(x, stats)
    if not np.isfinite(z).all():  # e.g. a subnormal std: finite inputs, infinite outputs
        raise DataError(f"{path}: standardised values overflow float32 (a feature's std is {min(stats['std'])})")
    return torch.from_numpy(z)


def split_rows(path: Path, n: int, cfg: DataConfig, split: str) -> np.ndarray:
    """The sorted rows of a split; the error of a file too small to split names the file."""
    try:
        return split_indices(n, cfg.val_fraction, cfg.data_seed, split).numpy()
    except DataError as e:
        raise DataError(f"{path}: {e}") from None


def load_array(cfg: DataConfig, split: str, stats: dict | None = None) -> TensorData:
    check_split(split)
    path = Path(cfg.data_dir or "")
    if not cfg.in_memory:
        from vaekit.data.stream import load_streamed  # a module of its own; it imports this one

        return load_streamed(cfg, split, stats)
    x, y = read_array(path)
    stats = stats or compute_stats(x[split_rows(path, len(x), cfg, "train")], path)
    idx = split_rows(path, len(x), cfg, split)
    labels = None if y is None else label_tensor(y[idx])
    return TensorData(_standardized_tensor(path, x[idx], stats), labels, stats=stats, is_image=False)


def load_array_path(path: Path, stats: dict | None) -> TensorData:
    x, y = read_array(path)
    stats = stats or compute_stats(x, path)
    return TensorData(_standardized_tensor(path, x, stats), None if y is None else label_tensor(y),
                      stats=stats, is_image=False)
