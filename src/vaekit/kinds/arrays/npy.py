"""The .npy / .npz format: what a file is, its header checked against its size, the layout rules, and the
split and statistics helpers that the in-memory and the streamed array loaders share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaekit.config import DataConfig
from vaekit.data.base import split_indices
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


def check_layout(path: Path, header: NpyHeader) -> None:
    """Shape and dtype rules, checkable from a header alone (the streaming path reads no data here)."""
    shape, dtype = header.shape, header.dtype
    if len(shape) < 2 or shape[0] < 2 or math.prod(shape[1:]) == 0:
        raise DataError(f"{path}: expected shape (N, ...) with N >= 2 items of >= 1 value, got {shape}")
    if dtype.kind not in NUMERIC_KINDS:
        what = "complex, which is not supported" if dtype.kind == "c" else "not numeric"
        raise DataError(f"{path}: dtype {dtype} is {what} (expected bool, integer or float)")


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


def split_rows(path: Path, n: int, cfg: DataConfig, split: str) -> np.ndarray:
    """The sorted rows of a split; the error of a file too small to split names the file."""
    try:
        return split_indices(n, cfg.val_fraction, cfg.data_seed, split).numpy()
    except DataError as e:
        raise DataError(f"{path}: {e}") from None
