"""load_path: new inputs for a trained model (an image, an image folder, a .npy/.npz), converted per the config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.config import DataConfig
from vaekit.data import TensorData
from vaekit.errors import DataError
from vaekit.kinds import load_path, load_split


def halves(w: int, h: int, mode: str = "RGB") -> Image.Image:
    arr = np.zeros((h, w), np.uint8)
    arr[:, w // 2:] = 255
    return Image.fromarray(arr, "L").convert(mode)


def shapes_cfg(**kw) -> DataConfig:
    return DataConfig(dataset="shapes", **kw)


@pytest.mark.parametrize("size, channels", [(16, 1), (24, 3), (None, None)])
def test_a_single_image_file_is_converted_per_the_config(tmp_path, size, channels):
    halves(50, 30).save(tmp_path / "in.png")
    d = load_path(tmp_path / "in.png", shapes_cfg(image_size=size, channels=channels))
    s, c = size or 64, channels or 3
    assert isinstance(d, TensorData) and d.x.shape == (1, c, s, s) and d.labels is None
    q = s // 4
    assert (d.x[..., : s // 2 - 1] < 0.05).all() and (d.x[..., s // 2 + 1:] > 0.95).all(), q


def test_a_string_path_works_and_grayscale_file_to_rgb(tmp_path):
    Image.new("L", (20, 20), 51).save(tmp_path / "g.png")
    d = load_path(str(tmp_path / "g.png"), shapes_cfg(image_size=8, channels=3))
    assert d.x.shape == (1, 3, 8, 8) and torch.allclose(d.x, torch.full_like(d.x, 51 / 255), atol=1e-6)


def test_a_folder_is_converted_in_sorted_order(tmp_path):
    levels = [0, 60, 120, 180, 240]
    for i, v in enumerate(levels):
        Image.new("L", (30 + i, 20), v).save(tmp_path / f"img{i}.png")
    d = load_path(tmp_path, shapes_cfg(image_size=10, channels=1))
    assert d.x.shape == (5, 1, 10, 10) and d.labels is None
    assert torch.allclose(d.x[:, 0, 5, 5], torch.tensor(levels, dtype=torch.float32) / 255, atol=1e-6)


def test_a_folder_with_classes_gives_labels(tmp_path):
    for cls in ("b", "a"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            halves(12, 12).save(tmp_path / cls / f"{i}.png")
    d = load_path(tmp_path, shapes_cfg(image_size=8, channels=3))
    assert d.labels.tolist() == [0, 0, 1, 1] and d.label_names == ["a", "b"] and d.x.shape == (4, 3, 8, 8)


def test_a_folder_run_config_matches_load_split_conversion(tmp_path):
    for i in range(6):
        halves(40, 20 + i).save(tmp_path / f"{i}.png")
    cfg = DataConfig(dataset="folder", data_dir=str(tmp_path), image_size=12, channels=1)
    every = load_path(tmp_path, cfg)
    parts = torch.cat([load_split(cfg, s).x for s in ("train", "val", "test")])
    key = lambda t: sorted(tuple(r.flatten().tolist()) for r in t)  # noqa: E731
    assert key(every.x) == key(parts)


def test_npy_without_stats_takes_raw_values(tmp_path):
    imgs = np.random.default_rng(0).random((4, 1, 6, 6))
    np.save(tmp_path / "imgs.npy", imgs)
    d = load_path(tmp_path / "imgs.npy", shapes_cfg(binarize="dynamic"))
    assert torch.equal(d.x, torch.from_numpy(imgs.astype(np.float32))) and d.is_image and d.binarize == "dynamic"
    np.save(tmp_path / "tab.npy", imgs.reshape(4, 36))
    t = load_path(tmp_path / "tab.npy", shapes_cfg())
    assert not t.is_image and t.x.dtype == torch.float32 and t.stats is None


def test_npy_with_stats_is_standardised_with_them_exactly(tmp_path):
    x = np.random.default_rng(1).normal(3.0, 2.0, (10, 3))
    np.save(tmp_path / "new.npy", x)
    stats = {"mean": [1.0, -2.0, 0.5], "std": [2.0, 4.0, 0.25]}
    d = load_path(tmp_path / "new.npy", DataConfig(dataset="array", data_dir="unused.npy"), stats=stats)
    expect = ((x - np.array(stats["mean"])) / np.array(stats["std"])).astype(np.float32)
    assert torch.equal(d.x, torch.from_numpy(expect)) and d.stats == stats and not d.is_image


def test_npz_with_stats_keeps_its_labels(tmp_path):
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.savez(tmp_path / "new.npz", x=x, y=np.arange(6) + 100)
    d = load_path(tmp_path / "new.npz", shapes_cfg(), stats={"mean": [0.0, 0.0], "std": [1.0, 2.0]})
    assert d.labels.tolist() == list(range(100, 106))
    assert torch.equal(d.x, torch.from_numpy((x / np.array([1.0, 2.0])).astype(np.float32)))


def test_stats_from_a_trained_array_run_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(5.0, 3.0, (200, 4))
    np.save(tmp_path / "train.npy", x)
    cfg = DataConfig(dataset="array", data_dir=str(tmp_path / "train.npy"))
    tr = load_split(cfg, "train")
    va = load_split(cfg, "val")
    np.save(tmp_path / "again.npy", x)
    d = load_path(tmp_path / "again.npy", cfg, stats=tr.stats)
    from vaekit.data.base import split_indices

    assert torch.equal(d.x[split_indices(200, 0.1, 0, "val")], va.x)


def test_npy_stats_of_another_shape_are_a_data_error(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 5)))
    with pytest.raises(DataError, match="statistics"):
        load_path(tmp_path / "w.npy", shapes_cfg(), stats={"mean": [0.0, 0.0], "std": [1.0, 1.0]})


def test_bad_inputs_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist") as e:
        load_path(tmp_path / "missing.png", shapes_cfg())
    assert "missing.png" in str(e.value)
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match=r"bad\.png"):
        load_path(tmp_path / "bad.png", shapes_cfg())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_path(tmp_path / "empty", shapes_cfg())
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan], [0.0, 0.0]]))
    with pytest.raises(DataError, match="NaN"):
        load_path(tmp_path / "nan.npy", shapes_cfg())
