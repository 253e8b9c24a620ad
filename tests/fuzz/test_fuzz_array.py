"""Fuzzing `array` data: .npy/.npz of any dtype, shape and value, labels, random and damaged bytes.

Property: each split loads as finite standardised float32 items of the file's item shape, or fails
with a DataError naming the file; a .npy loads the same streamed (in_memory=False) as in memory.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.fuzz.helpers import case, fuzz
from vaekit.config import DataConfig
from vaekit.data import iterate_batches
from vaekit.errors import DataError
from vaekit.kinds import load_split

SPLITS = ("train", "val", "test")
DTYPES = ["float16", "float32", "float64", "int8", "uint8", "int64", "uint64", "bool", "complex64", "<U2", "S2",
          "datetime64[s]", "timedelta64[s]", [("a", "<f4")]]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)


@st.composite
def any_array(draw: st.DrawFn) -> np.ndarray:
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(SHAPES | st.tuples(st.integers(3, 12), st.integers(1, 4)))  # the second: mostly loadable
    if dtype.kind == "f" and draw(st.booleans()):  # finite moderate values: the loadable case
        return draw(hnp.arrays(dtype, shape, elements=st.floats(-1e4, 1e4, width=dtype.itemsize * 8)))
    return draw(hnp.arrays(dtype, shape))


@st.composite
def array_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """(suffix, file bytes): an .npy, an .npz with random members, or random/damaged bytes."""
    kind = draw(st.sampled_from(["npy", "npy", "npz", "object", "bytes", "damaged"]))
    buf = io.BytesIO()
    if kind in ("npy", "damaged"):
        np.save(buf, draw(any_array()))
    elif kind == "object":
        np.save(buf, np.array([[1, "a"], [None, 2.0], [{}, []]], dtype=object), allow_pickle=True)
    elif kind == "npz":
        keys = draw(st.lists(st.sampled_from(["x", "y", "a", "b"]), min_size=0, max_size=3, unique=True))
        np.savez(buf, **{k: draw(any_array()) for k in keys})
    else:
        return draw(st.sampled_from([".npy", ".npz"])), draw(st.binary(max_size=300))
    raw = buf.getvalue()
    if kind == "damaged":
        at = draw(st.integers(0, len(raw) - 1))
        raw = draw(st.sampled_from([raw[:at], raw[:at] + bytes([raw[at] ^ draw(st.integers(1, 255))]) + raw[at + 1:],
                                    raw + draw(st.binary(min_size=1, max_size=9))]))
    return (".npz" if kind == "npz" else ".npy"), raw


def load_all(path: Path, in_memory: bool) -> list[torch.Tensor] | DataError:
    """The three splits' items (through the batch iterator), or the DataError."""
    cfg = DataConfig(dataset="array", data_dir=str(path), in_memory=in_memory)
    try:
        train = load_split(cfg, "train")
        splits = [train] + [load_split(cfg, s, stats=train.stats) for s in SPLITS[1:]]
    except DataError as e:
        return e
    out = []
    for data in splits:
        try:  # streamed items are standardised when read: a value that overflows float32 fails here
            x = torch.cat([b for b, _ in iterate_batches(data, 7, shuffle=False)])
        except DataError as e:
            return e
        assert x.dtype == torch.float32 and torch.isfinite(x).all()
        assert x.shape[1:] == data.event_shape and len(x) == len(data)
        out.append(x)
    if path.suffix == ".npy":  # the splits partition the file's rows
        assert sum(len(x) for x in out) == len(np.load(path, mmap_mode="r"))
    return out


def npy_bytes(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


def must_fail(x: np.ndarray) -> bool:
    """Inputs no loader may accept, by the documented rules."""
    return (x.dtype.kind not in "biuf" or x.ndim < 2 or x.shape[0] < 3 or 0 in x.shape
            or (x.dtype.kind == "f" and not np.isfinite(x).all()))


@fuzz(max_examples=300)
@given(array_file())
@example((".npy", npy_bytes(np.ones((4, 2), complex))))  # was loaded with the imaginary part dropped
@example((".npy", npy_bytes(np.ones((4, 2), "m8[s]"))))  # timedelta64: was a UFuncTypeError
@example((".npy", b""))  # empty file
@example((".npy", npy_bytes(np.full((3, 1), 2.0**512))))  # streamed statistics overflowed, in-memory ones did not
@example((".npy", npy_bytes(np.array([[0.0], [0.0], [0.0], [0.0], [5.9e-39]], np.float32))))  # subnormal std
@example((".npy", npy_bytes(np.ones((2, 1)))))  # too few rows to split: the error did not name the file
@example((".npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f2', 'fortran_order': False, 'shape':[(), }" + b" " * 62
          + b"\n\x00\x00"))  # a damaged header: numpy's parser raised tokenize.TokenError
def test_array_files_load_or_fail_with_a_data_error_naming_them(tmp_path_factory, f):
    suffix, raw = f
    path = tmp_path_factory.mktemp("arr") / f"data{suffix}"
    path.write_bytes(raw)
    with case():
        in_memory = load_all(path, True)
        if isinstance(in_memory, DataError):
            assert str(path) in str(in_memory)
        else:
            x = np.load(path, allow_pickle=False)
            x = x["x"] if isinstance(x, np.lib.npyio.NpzFile) and "x" in x else x
            assert not isinstance(x, np.ndarray) or not must_fail(x)
        streamed = load_all(path, False)
    if isinstance(streamed, DataError):
        assert str(path) in str(streamed)
        assert isinstance(in_memory, DataError) or suffix == ".npz", f"only streaming failed: {streamed}"
        if suffix == ".npz" and not isinstance(in_memory, DataError):
            assert "convert it to .npy" in str(streamed)
        return
    assert not isinstance(in_memory, DataError), f"only in-memory loading failed: {in_memory}"
    for a, b in zip(in_memory, streamed, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@fuzz(max_examples=150)
@given(y=any_array(), n=st.integers(3, 9))
@example(y=np.array([1e300, 0.0, 0.0]), n=3)  # was held as inf in the float32 labels
def test_labels_are_checked_or_kept_with_their_rows(tmp_path_factory, y, n):
    path = tmp_path_factory.mktemp("lab") / "xy.npz"
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)
    np.savez(path, x=x, y=y)
    ok = (y.dtype.kind in "biuf" and y.ndim in (1, 2) and len(y) == n
          and (y.dtype.kind != "f" or np.isfinite(y).all()) and (y.dtype.kind != "u" or not y.size or y.max() < 2**63)
          and (y.dtype.kind != "f" or not y.size or np.abs(y).max() <= np.finfo(np.float32).max))
    with case():
        try:
            data = load_split(DataConfig(dataset="array", data_dir=str(path)), "train")
        except DataError as e:
            assert not ok and str(path) in str(e) and "label" in str(e), str(e)
            return
    assert ok
    assert data.labels.dtype == (torch.float32 if y.dtype.kind == "f" else torch.int64)
    rows = ((data.x[:, 0].double() * data.stats["std"][0] + data.stats["mean"][0]) / 2).round().long().numpy()
    expected = y[rows].astype(np.float32 if y.dtype.kind == "f" else np.int64)  # x[i, 0] = 2 i identifies row i
    assert torch.equal(data.labels, torch.from_numpy(expected))


def write(path: Path, arr: np.ndarray, **kw: object) -> Path:
    np.save(path, arr, **kw)
    return path


@pytest.mark.parametrize("make, needle", [
    # each was accepted or escaped as another exception type before these tests
    (lambda p: write(p / "c.npy", np.ones((6, 2), complex)), "dtype complex128 is complex, which is not supported"),
    (lambda p: write(p / "t.npy", np.zeros((6, 2), "m8[s]")), "dtype timedelta64[s] is not numeric"),  # UFuncTypeError
    (lambda p: write(p / "e.npy", np.ones((6, 0))), "N >= 2 items of >= 1 value, got (6, 0)"),
    (lambda p: write(p / "h.npy", np.array([[1e308], [-1e308]] * 3)), "values too large to standardise"),
    (lambda p: write(p / "o.npy", np.array([{}, []] * 3, dtype=object), allow_pickle=True), "pickled Python objects"),
])
def test_regressions_in_memory_and_streamed(tmp_path, make, needle):
    path = make(tmp_path)
    for in_memory in (True, False):
        with pytest.raises(DataError) as e:
            load_split(DataConfig(dataset="array", data_dir=str(path), in_memory=in_memory), "train")
        assert needle in str(e.value) and str(path) in str(e.value)


def _zip_member(path: Path, name: str, payload: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(name, payload)
    return path


@pytest.mark.parametrize("make, needle", [
    (lambda p: _zip_member(p / "b.npz", "x.npy", b"garbage"), "member 'x' is not a .npy array"),  # AttributeError
    (lambda p: _zip_member(p / "t.npz", "notes.txt", b"hi"), "member 'x' is not a .npy array"),
    (lambda p: np.savez(p / "s.npz", x=np.ones((6, 2)), y=np.float64(1)) or p / "s.npz",
     "6 items but scalar labels"),  # TypeError: len() of unsized object
    (lambda p: np.savez(p / "n.npz", x=np.ones((6, 2)), y=np.full(6, np.nan)) or p / "n.npz", "labels hold NaN/inf"),
    (lambda p: np.savez(p / "k.npz", x=np.ones((6, 2)), y=np.ones(6, complex)) or p / "k.npz",
     "labels of dtype complex128 are not numeric"),
])
def test_npz_regressions(tmp_path, make, needle):
    path = make(tmp_path)
    with pytest.raises(DataError) as e:
        load_split(DataConfig(dataset="array", data_dir=str(path)), "train")
    assert needle in str(e.value) and str(path) in str(e.value)


def test_random_bytes_are_not_called_a_pickle(tmp_path):
    (tmp_path / "r.npy").write_bytes(b"\x00\x01random bytes")
    with pytest.raises(DataError) as e:
        load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "r.npy")), "train")
    # numpy's own message was "This file contains pickled (object) data. If you trust the file ..."
    assert str(e.value) == f"array file {tmp_path / 'r.npy'} is not a .npy or .npz file (its first bytes are " \
                           "b'\\x00\\x01rand')"


def test_a_header_promising_more_than_the_file_holds_is_refused_before_reading(tmp_path):
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }"
    (tmp_path / "big.npy").write_bytes(b"\x93NUMPY\x01\x00" + (118).to_bytes(2, "little") + header.ljust(117) + b"\n")
    for in_memory in (True, False):
        with pytest.raises(DataError, match=r"declares shape \(1000000000, 1000\) of float64 \(8000000000000 bytes"):
            load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "big.npy"), in_memory=in_memory), "train")


def test_unsigned_labels_become_int64(tmp_path):
    np.savez(tmp_path / "u.npz", x=np.arange(12.0).reshape(6, 2), y=np.arange(6, dtype=np.uint16))
    data = load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "u.npz")), "train")
    assert data.labels.dtype == torch.int64  # was torch.uint16, which most torch ops refuse
