"""Fuzzing the MNIST IDX parser: malformed headers, payloads, gzip streams and label files.

Property: read_idx either returns exactly the array a well-formed file holds, or raises a DataError
naming the file - never another exception, never a hang. Then whole folders, and the CLI.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.helpers import case, fuzz
from tests.kinds.images.conftest import N_TRAIN_SMALL, NAMES, fake_mnist, write_idx
from vaekit.cli import main
from vaekit.config import DataConfig
from vaekit.errors import DataError
from vaekit.kinds import load_split
from vaekit.kinds.images.mnist import IMAGES_MAGIC, LABELS_MAGIC, read_idx

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES


def header(magic: int, dims: list[int]) -> bytes:
    return magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)


@st.composite
def idx_stream(draw: st.DrawFn) -> tuple[bytes, bool]:
    """(uncompressed bytes, well_formed): a header whose magic, dimension count and sizes may disagree
    with each other and with the payload that follows."""
    magic = draw(st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC, 0x0803, 0x0804, 0x0903]) | st.integers(0, 2**32 - 1))
    ndim = draw(st.integers(0, 4) | st.just(magic & 0xFF))
    small = st.integers(0, 6)
    dims = draw(st.lists(small | st.integers(0, 2**32 - 1), min_size=ndim, max_size=ndim))
    size = math.prod(dims)
    length = draw(st.sampled_from([size, size - 1, size + 1]) if size <= 4096 else st.integers(0, 64))
    payload = draw(st.binary(min_size=max(0, length), max_size=max(0, length)))
    raw = header(magic, dims)[: 4 + 4 * draw(st.integers(0, ndim))] if draw(st.booleans()) else header(magic, dims)
    raw += payload
    ok = (magic == IMAGES_MAGIC and ndim == 3 and len(raw) == 16 + size)
    return raw, ok


@st.composite
def gz_file(draw: st.DrawFn) -> tuple[bytes, bytes | None]:
    """(file bytes, the IDX bytes it decompresses to if the gzip stream is intact, else None)."""
    raw, _ = draw(idx_stream())
    gz = gzip.compress(raw, mtime=0)
    damage = draw(st.sampled_from(["none", "truncate", "flip", "append", "plain", "random"]))
    if damage == "none":
        return gz, raw
    if damage == "truncate":
        return gz[: draw(st.integers(0, len(gz) - 1))], None
    if damage == "flip":
        at = draw(st.integers(0, len(gz) - 1))
        return gz[:at] + bytes([gz[at] ^ draw(st.integers(1, 255))]) + gz[at + 1:], None
    if damage == "append":
        return gz + draw(st.binary(min_size=1, max_size=20)), None
    if damage == "plain":  # an uncompressed IDX file with a .gz name
        return raw, None
    return draw(st.binary(max_size=300)), None


def well_formed(raw: bytes, magic: int) -> tuple[list[int], bytes] | None:
    """Dims and payload of a valid IDX stream with this magic, by an independent reading of the format."""
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != magic:
        return None
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        return None
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    payload = raw[4 + 4 * ndim:]
    if math.prod(d or 1 for d in dims) >= 2**63:  # numpy's limit on an array's extent, even an empty one's
        return None
    return (dims, payload) if len(payload) == math.prod(dims) else None


@fuzz(max_examples=400)
@given(gz_file(), st.sampled_from([IMAGES_MAGIC, LABELS_MAGIC]))
# int64 wrap-around: 2**22 * 2**21 * 2**21 = 2**64 was 0 in np.prod, so the empty payload "matched" the
# header and reshape raised ValueError
@example((gzip.compress(header(IMAGES_MAGIC, [2**22, 2**21, 2**21])), None), IMAGES_MAGIC)
@example((gzip.compress(header(LABELS_MAGIC, [2**32 - 1])), None), LABELS_MAGIC)
# found by this test: an empty payload matches dims [0, 3036988439, 3036988450], whose extent numpy refused
# in reshape with "ValueError: array is too big"
@example((gzip.compress(header(IMAGES_MAGIC, [0, 3036988439, 3036988450])), None), IMAGES_MAGIC)
@example((b"", None), IMAGES_MAGIC)
def test_read_idx_returns_the_exact_array_or_a_data_error_naming_the_file(tmp_path_factory, f, magic):
    data, raw = f
    path = tmp_path_factory.mktemp("idx") / "file-idx3-ubyte.gz"
    path.write_bytes(data)
    with case():
        try:
            arr = read_idx(path, magic)
        except DataError as e:
            assert str(path) in str(e)
            expected = None if raw is None else well_formed(raw, magic)
            assert expected is None, f"a well-formed file was refused: {e}"
            return
    assert raw is not None or data[:2] == b"\x1f\x8b"  # accepted bytes decompress to a valid IDX stream
    expected = well_formed(gzip.decompress(data), magic)
    assert expected is not None
    dims, payload = expected
    assert list(arr.shape) == dims and arr.dtype == np.uint8 and arr.tobytes() == payload


@pytest.fixture
def mnist_folder(tmp_path, clean_env) -> Path:
    fake_mnist(tmp_path / "m")
    return tmp_path / "m"


@fuzz(max_examples=150)
@given(name=st.sampled_from(NAMES), f=gz_file())
def test_a_fuzzed_file_in_a_folder_is_loaded_or_a_data_error_naming_it(mnist_folder, name, f):
    fake_mnist(mnist_folder)  # the fixture's folder is shared by all examples: restore the other files
    (mnist_folder / name).write_bytes(f[0])
    split = "test" if name.startswith("t10k") else "train"
    with case():
        try:
            data = load_split(DataConfig(dataset="mnist", data_dir=str(mnist_folder)), split)
        except DataError as e:
            assert str(mnist_folder) in str(e)
            assert name in str(e) or "images but" in str(e), str(e)  # a count mismatch names both files
            return
    assert data.x.shape[1:] == (1, 28, 28) and len(data) == len(data.labels) > 0
    assert data.x.min() >= 0.0 and data.x.max() <= 1.0 and int(data.labels.max()) <= 9


@fuzz(max_examples=60)
@given(n_images=st.integers(N_TRAIN_SMALL + 1, 14), n_labels=st.integers(0, 14))
def test_label_count_mismatch_names_both_files(mnist_folder, n_images, n_labels):
    write_idx(mnist_folder / TRAIN_IMAGES, np.zeros((n_images, 28, 28)), IMAGES_MAGIC)
    write_idx(mnist_folder / TRAIN_LABELS, np.zeros(n_labels), LABELS_MAGIC)
    with case():
        if n_labels == n_images:
            assert len(load_split(DataConfig(dataset="mnist", data_dir=str(mnist_folder)), "train")) == N_TRAIN_SMALL
            return
        with pytest.raises(DataError) as e:
            load_split(DataConfig(dataset="mnist", data_dir=str(mnist_folder)), "val")
    assert str(e.value) == (f"{mnist_folder}: {TRAIN_IMAGES} has {n_images} images but {TRAIN_LABELS} "
                            f"has {n_labels} labels")


@pytest.mark.parametrize("images, labels, needle", [
    # all three were accepted: a 5x7 "MNIST" built a 35-pixel model, an empty test set divided by zero later,
    # and label 200 had no name among the 10 digits
    (np.zeros((5, 5, 7)), np.zeros(5), "images of 5x7 pixels, expected 28x28"),
    (np.zeros((0, 28, 28)), np.zeros(0), "holds no images"),
    (np.zeros((5, 28, 28)), np.array([1, 2, 200, 3, 4]), "label 200 of item 2 is not a digit 0-9"),
])
def test_images_of_another_size_empty_files_and_bad_labels_are_refused(mnist_folder, images, labels, needle):
    write_idx(mnist_folder / TEST_IMAGES, images, IMAGES_MAGIC)
    write_idx(mnist_folder / TEST_LABELS, labels, LABELS_MAGIC)
    with pytest.raises(DataError, match=needle) as e:
        load_split(DataConfig(dataset="mnist", data_dir=str(mnist_folder)), "test")
    assert str(mnist_folder) in str(e.value)


def test_a_gzip_bomb_is_cut_after_the_promised_size(tmp_path):
    """A header promising 10 labels followed by 50 MB of zeros: refused after reading 11 payload bytes
    (the old parser decompressed the whole stream into memory first)."""
    payload = header(LABELS_MAGIC, [10]) + bytes(50_000_000)
    (tmp_path / "bomb.gz").write_bytes(gzip.compress(payload, compresslevel=1))
    assert (tmp_path / "bomb.gz").stat().st_size < 300_000
    with pytest.raises(DataError, match=r"longer than the 18 bytes its header \[10\] promises") as e:
        read_idx(tmp_path / "bomb.gz", LABELS_MAGIC)
    assert str(tmp_path / "bomb.gz") in str(e.value)


def test_a_folder_in_place_of_a_file_is_a_data_error(mnist_folder):
    (mnist_folder / TEST_LABELS).unlink()
    (mnist_folder / TEST_LABELS).mkdir()
    with pytest.raises(DataError, match="not found"):
        load_split(DataConfig(dataset="mnist", data_dir=str(mnist_folder)), "test")
    with pytest.raises(DataError, match=f"cannot read {mnist_folder / TEST_LABELS}: Is a directory"):
        read_idx(mnist_folder / TEST_LABELS, LABELS_MAGIC)


def _garbage(p: Path) -> None:
    p.write_bytes(b"not a gzip file at all")


def _truncated(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:-9])


def _wrong_magic(p: Path) -> None:
    p.write_bytes(gzip.compress(header(2050, [12, 28, 28]) + bytes(12 * 784)))


def _count_mismatch(p: Path) -> None:
    write_idx(p, np.zeros(11), LABELS_MAGIC)


@pytest.mark.parametrize("name, damage, needle", [
    (TRAIN_IMAGES, _garbage, "is not a readable gzip file"),
    (TRAIN_LABELS, _truncated, "is not a readable gzip file"),
    (TRAIN_IMAGES, _wrong_magic, "wrong IDX magic number 2050, expected 2051"),
    (TRAIN_LABELS, _count_mismatch, "has 12 images but"),
])
def test_the_cli_reports_a_broken_mnist_folder_without_a_traceback(mnist_folder, capsys, name, damage, needle):
    damage(mnist_folder / name)
    code = main(["train", "--data", "mnist", "--data-dir", str(mnist_folder), "--epochs", "1", "--no-compile",
                 "--no-progress", "--out", str(mnist_folder.parent / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("vaekit: error: ") and needle in err and "Traceback" not in err
    assert str(mnist_folder) in err
    assert not (mnist_folder.parent / "run").exists()


def test_the_cli_reports_a_missing_data_dir(tmp_path, clean_env, capsys):
    code = main(["train", "--data", "mnist", "--data-dir", str(tmp_path / "nope"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"vaekit: error: --data-dir {tmp_path / 'nope'} does not exist")
