"""MNIST from synthetic gzipped IDX files: exact round trip, the N_TRAIN split, static binarization,
strict parsing (every bad input a DataError naming the file), and the lookup order."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.kinds.images.conftest import N_TRAIN_SMALL, NAMES, fake_mnist, idx_bytes, write_idx
from vaekit.config import DataConfig
from vaekit.errors import ConfigError, DataError
from vaekit.kinds import load_split
from vaekit.kinds.images import mnist as mnist_mod
from vaekit.kinds.images.mnist import mnist_files, read_idx

TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS = NAMES


def cfg(folder: Path, **kw) -> DataConfig:
    return DataConfig(dataset="mnist", data_dir=str(folder), **kw)


def test_pixels_and_labels_round_trip_exactly(tmp_path, clean_env):
    arr = fake_mnist(tmp_path)
    tr, va, te = (load_split(cfg(tmp_path), s) for s in ("train", "val", "test"))
    expect = torch.from_numpy(arr["train_x"].astype(np.float64) / 255.0).float().unsqueeze(1)
    assert tr.x.dtype == torch.float32 and tr.x.shape == (N_TRAIN_SMALL, 1, 28, 28)
    assert torch.equal(tr.x, expect[:N_TRAIN_SMALL])
    assert torch.equal(va.x, expect[N_TRAIN_SMALL:])
    assert torch.equal(te.x, torch.from_numpy(arr["test_x"] / 255.0).float().unsqueeze(1))
    assert tr.labels.dtype == torch.int64
    assert tr.labels.tolist() == arr["train_y"][:N_TRAIN_SMALL].tolist()
    assert va.labels.tolist() == arr["train_y"][N_TRAIN_SMALL:].tolist()
    assert te.labels.tolist() == arr["test_y"].tolist()
    assert tr.label_names == [str(i) for i in range(10)] and tr.binarize == "none"


def test_extreme_pixel_values_map_to_0_and_1(tmp_path, clean_env):
    fake_mnist(tmp_path)
    x = np.zeros((12, 28, 28), np.uint8)
    x[:, :, 14:] = 255
    x[3, 0, 0] = 1
    write_idx(tmp_path / TRAIN_IMAGES, x, 2051)
    tr = load_split(cfg(tmp_path), "train")
    assert tr.x[0, 0, 0, 0].item() == 0.0 and tr.x[0, 0, 0, 27].item() == 1.0
    assert tr.x[3, 0, 0, 0].item() == pytest.approx(1 / 255)


@pytest.mark.parametrize("n_train", [8, 10])
def test_train_val_split_is_cut_at_n_train(tmp_path, monkeypatch, clean_env, n_train):
    monkeypatch.setattr(mnist_mod, "N_TRAIN", n_train)
    arr = fake_mnist(tmp_path, n_train=12)
    tr, va = load_split(cfg(tmp_path), "train"), load_split(cfg(tmp_path), "val")
    assert (len(tr), len(va)) == (n_train, 12 - n_train)
    assert torch.equal(torch.cat([tr.labels, va.labels]), torch.from_numpy(arr["train_y"].astype(np.int64)))


def test_too_few_training_images_for_the_split_is_a_data_error(tmp_path, clean_env):
    fake_mnist(tmp_path, n_train=N_TRAIN_SMALL)  # needs more than N_TRAIN
    with pytest.raises(DataError, match=TRAIN_IMAGES.replace(".", r"\.")):
        load_split(cfg(tmp_path), "val")
    assert len(load_split(cfg(tmp_path), "test")) == 5  # the test split does not need it


def test_static_binarization_is_seeded_per_data_seed_and_split(tmp_path, clean_env):
    fake_mnist(tmp_path, n_train=400, n_test=200)  # N_TRAIN 8: val has 392 images
    a = {s: load_split(cfg(tmp_path, binarize="static"), s) for s in ("train", "val", "test")}
    b = load_split(cfg(tmp_path, binarize="static"), "val")
    c = load_split(cfg(tmp_path, binarize="static", data_seed=1), "val")
    gray = load_split(cfg(tmp_path), "val")
    assert torch.equal(a["val"].x, b.x)  # deterministic for a data_seed
    assert not torch.equal(a["val"].x, c.x)  # another seed, another draw
    assert set(torch.unique(a["val"].x).tolist()) == {0.0, 1.0}
    assert a["val"].binarize == "static"
    # the draw is Bernoulli(gray): mean close to the gray mean (n = 307k pixels, 4 sigma)
    n = gray.x.numel()
    assert abs(a["val"].x.mean().item() - gray.x.mean().item()) < 4 * (0.25 / n) ** 0.5
    assert ((a["val"].x == 1) <= (gray.x > 0)).all()  # a black pixel is never drawn white


def test_static_draws_differ_across_splits_on_identical_images(tmp_path, clean_env, monkeypatch):
    monkeypatch.setattr(mnist_mod, "N_TRAIN", 100)
    x = np.full((200, 28, 28), 128, np.uint8)
    write_idx(tmp_path / TRAIN_IMAGES, x, 2051)
    write_idx(tmp_path / TRAIN_LABELS, np.zeros(200), 2049)
    write_idx(tmp_path / TEST_IMAGES, x[:100], 2051)
    write_idx(tmp_path / TEST_LABELS, np.zeros(100), 2049)
    tr, va, te = (load_split(cfg(tmp_path, binarize="static"), s).x for s in ("train", "val", "test"))
    assert not torch.equal(tr, va) and not torch.equal(tr, te) and not torch.equal(va, te)


def test_dynamic_mode_keeps_grayscale_for_the_iterator(tmp_path, clean_env):
    fake_mnist(tmp_path)
    d = load_split(cfg(tmp_path, binarize="dynamic"), "train")
    assert d.binarize == "dynamic" and torch.equal(d.x, load_split(cfg(tmp_path), "train").x)


def test_image_size_other_than_28_is_a_config_error(tmp_path, clean_env):
    fake_mnist(tmp_path)
    with pytest.raises(ConfigError, match="28x28"):
        load_split(cfg(tmp_path, image_size=32), "train")
    assert len(load_split(cfg(tmp_path, image_size=28), "train")) == N_TRAIN_SMALL


# --- bad inputs: each a DataError naming the file -------------------------------------------------------------


def _wrong_magic(p: Path) -> None:
    write_idx(p, np.zeros((12, 28, 28)), 2049)


def _truncated_payload(p: Path) -> None:
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-100]))


def _extra_payload(p: Path) -> None:
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes()) + b"\0" * 7))


def _garbage(p: Path) -> None:
    p.write_bytes(b"this is not a gzip stream at all, just bytes" * 10)


def _truncated_gzip(p: Path) -> None:
    b = p.read_bytes()
    p.write_bytes(b[:len(b) // 2])  # the gzip stream ends early (no trailer)


def _corrupted_deflate(p: Path) -> None:
    b = bytearray(p.read_bytes())
    for i in range(40, 140):  # inside the deflate data, past the 10-byte gzip header
        b[i] ^= 0xA5
    p.write_bytes(bytes(b))


def _bad_crc(p: Path) -> None:
    b = bytearray(p.read_bytes())
    b[-8] ^= 0xFF  # the CRC32 in the gzip trailer
    p.write_bytes(bytes(b))


def _header_only(p: Path) -> None:
    p.write_bytes(gzip.compress(b"\0\0\x08"))


def _empty_file(p: Path) -> None:
    p.write_bytes(b"")


@pytest.mark.parametrize("damage, needle", [
    (_wrong_magic, "magic number 2049, expected 2051"),
    (_truncated_payload, "truncated"),
    (_extra_payload, "promises"),
    (_garbage, "not a readable gzip"),
    (_truncated_gzip, "not a readable gzip"),
    (_corrupted_deflate, "not a readable gzip"),
    (_bad_crc, "not a readable gzip"),
    (_header_only, "too short"),
    (_empty_file, "too short|not a readable gzip"),
])
def test_bad_train_images_raise_a_data_error_naming_the_file(tmp_path, clean_env, damage, needle):
    fake_mnist(tmp_path)
    damage(tmp_path / TRAIN_IMAGES)
    with pytest.raises(DataError, match=needle) as e:
        load_split(cfg(tmp_path), "train")
    assert str(tmp_path / TRAIN_IMAGES) in str(e.value)


@pytest.mark.parametrize("damage", [_garbage, _truncated_gzip, _truncated_payload])
def test_bad_test_labels_raise_a_data_error_naming_the_file(tmp_path, clean_env, damage):
    fake_mnist(tmp_path)
    damage(tmp_path / TEST_LABELS)
    with pytest.raises(DataError) as e:
        load_split(cfg(tmp_path), "test")
    assert str(tmp_path / TEST_LABELS) in str(e.value)
    assert len(load_split(cfg(tmp_path), "train")) == N_TRAIN_SMALL  # the train files are fine


def test_labels_file_with_the_images_magic_is_rejected(tmp_path, clean_env):
    fake_mnist(tmp_path)
    write_idx(tmp_path / TRAIN_LABELS, np.zeros(12), 2051)
    with pytest.raises(DataError, match="expected 2049") as e:
        load_split(cfg(tmp_path), "train")
    assert TRAIN_LABELS in str(e.value)


def test_image_label_count_mismatch_names_both_files(tmp_path, clean_env):
    fake_mnist(tmp_path)
    write_idx(tmp_path / TRAIN_LABELS, np.zeros(11), 2049)
    with pytest.raises(DataError, match=r"12 images but .* 11 labels") as e:
        load_split(cfg(tmp_path), "train")
    assert TRAIN_IMAGES in str(e.value) and TRAIN_LABELS in str(e.value) and str(tmp_path) in str(e.value)


def test_images_without_three_dimensions_are_rejected(tmp_path, clean_env):
    fake_mnist(tmp_path)
    write_idx(tmp_path / TRAIN_IMAGES, np.zeros((12, 784)), 2051)  # magic 2051 but 2-D: ndim byte says 3
    with pytest.raises(DataError) as e:
        load_split(cfg(tmp_path), "train")
    assert TRAIN_IMAGES in str(e.value)


def test_read_idx_parses_exactly_what_was_written(tmp_path):
    arr = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    p = tmp_path / "a.gz"
    p.write_bytes(gzip.compress(idx_bytes(arr, 2051)))
    got = read_idx(p, 2051)
    assert got.dtype == np.uint8 and np.array_equal(got, arr)
    with pytest.raises(DataError, match="is missing"):
        read_idx(tmp_path / "nope.gz", 2051)


# --- lookup ---------------------------------------------------------------------------------------------------


def test_missing_files_without_download_list_the_four_files_and_the_folders(tmp_path, clean_env, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "vd"))
    (tmp_path / "dd").mkdir()
    with pytest.raises(DataError) as e:
        mnist_files(str(tmp_path / "dd"), download=False)
    msg = str(e.value)
    for name in NAMES:
        assert name in msg
    for folder in (tmp_path / "dd", tmp_path / "dd" / "mnist", tmp_path / "vd" / "mnist", clean_env):
        assert str(folder) in msg
    assert not clean_env.exists()  # nothing was downloaded nor created


def test_three_of_four_files_is_not_enough(tmp_path, clean_env):
    fake_mnist(tmp_path)
    (tmp_path / TEST_LABELS).unlink()
    with pytest.raises(DataError, match=TEST_LABELS):
        mnist_files(str(tmp_path), download=False)


def test_a_data_dir_that_does_not_exist_is_a_data_error(tmp_path, clean_env):
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(DataError, match="does not exist") as e:
        mnist_files(str(missing))  # download=True: the missing --data-dir is reported before any download
    assert str(missing) in str(e.value)
    with pytest.raises(DataError, match="does not exist"):
        load_split(cfg(missing), "train")


def test_a_data_dir_that_does_not_exist_is_an_error_even_when_the_cache_has_mnist(tmp_path, clean_env):
    fake_mnist(clean_env)
    with pytest.raises(DataError, match="does not exist"):
        mnist_files(str(tmp_path / "typo"), download=False)


def _place(folder: Path, seed: int) -> None:
    fake_mnist(folder, seed=seed)


def test_lookup_data_dir_itself(tmp_path, clean_env):
    _place(tmp_path / "dd", 1)
    assert mnist_files(str(tmp_path / "dd"), download=False) == tmp_path / "dd"


def test_lookup_data_dir_with_mnist_subfolder(tmp_path, clean_env):
    _place(tmp_path / "dd" / "mnist", 1)
    assert mnist_files(str(tmp_path / "dd"), download=False) == tmp_path / "dd" / "mnist"


def test_lookup_order_data_dir_then_vaekit_data_then_cache(tmp_path, clean_env, monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "vd"))
    _place(clean_env, 3)
    _place(tmp_path / "vd" / "mnist", 2)
    _place(tmp_path / "dd" / "mnist", 1)
    _place(tmp_path / "dd", 0)

    def first_label_source() -> list[int]:
        return load_split(DataConfig(dataset="mnist", data_dir=str(tmp_path / "dd")), "test").labels.tolist()

    expected = {s: fake_mnist(tmp_path / f"ref{s}", seed=s)["test_y"].tolist() for s in range(4)}
    assert len({tuple(v) for v in expected.values()}) == 4  # the four sources are distinguishable
    assert mnist_files(str(tmp_path / "dd"), download=False) == tmp_path / "dd"
    assert first_label_source() == expected[0]
    for name in NAMES:
        (tmp_path / "dd" / name).unlink()
    assert mnist_files(str(tmp_path / "dd"), download=False) == tmp_path / "dd" / "mnist"
    assert first_label_source() == expected[1]
    # without --data-dir: $VAEKIT_DATA/mnist beats the cache
    assert mnist_files(None, download=False) == tmp_path / "vd" / "mnist"
    assert load_split(DataConfig(dataset="mnist"), "test").labels.tolist() == expected[2]
    # $VAEKIT_DATA set but without the files: the cache
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "empty"))
    assert mnist_files(None, download=False) == clean_env
    assert load_split(DataConfig(dataset="mnist"), "test").labels.tolist() == expected[3]
    # an existing --data-dir without the files falls through to the next source
    monkeypatch.delenv("VAEKIT_DATA")
    (tmp_path / "other").mkdir()
    assert mnist_files(str(tmp_path / "other"), download=False) == clean_env


def test_vaekit_data_is_used_as_root_not_as_the_mnist_folder(tmp_path, clean_env, monkeypatch):
    _place(tmp_path / "vd", 1)  # files directly in $VAEKIT_DATA, not in $VAEKIT_DATA/mnist
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "vd"))
    with pytest.raises(DataError, match="not found"):
        mnist_files(None, download=False)


def test_cache_defaults_to_home_cache_without_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert mnist_mod.cache_dir() == tmp_path / ".cache" / "vaekit" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty counts as unset
    assert mnist_mod.cache_dir() == tmp_path / ".cache" / "vaekit" / "mnist"
    assert os.environ["HOME"] == str(tmp_path)
