"""array: .npy / .npz, standardisation with train statistics, and strict validation (DataError)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.config import DataConfig
from vaekit.data.base import split_indices
from vaekit.errors import DataError, VaekitError
from vaekit.kinds import load_split

SPLITS = ("train", "val", "test")


def acfg(path: Path, **kw) -> DataConfig:
    return DataConfig(dataset="array", data_dir=str(path), **kw)


def sample(n: int = 400, d: int = 5, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    return g.normal(loc=np.arange(d) * 10.0, scale=np.arange(1, d + 1) * 2.0, size=(n, d))


@pytest.fixture
def npy(tmp_path) -> tuple[Path, np.ndarray]:
    x = sample()
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy", x


def test_train_split_is_standardised_per_feature(npy):
    path, x = npy
    tr = load_split(acfg(path), "train")
    assert tr.x.dtype == torch.float32 and tr.x.shape == (320, 5) and not tr.is_image
    assert torch.allclose(tr.x.double().mean(0), torch.zeros(5, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(tr.x.double().std(0, unbiased=False), torch.ones(5, dtype=torch.float64), atol=1e-6)
    idx = split_indices(400, 0.1, 0, "train").numpy()
    raw = x[idx]
    assert np.allclose(tr.stats["mean"], raw.mean(0)) and np.allclose(tr.stats["std"], raw.std(0))
    assert torch.allclose(tr.x, torch.from_numpy((raw - raw.mean(0)) / raw.std(0)).float(), atol=1e-6)


def test_stats_are_plain_lists_for_json(npy):
    import json

    tr = load_split(acfg(npy[0]), "train")
    assert json.loads(json.dumps(tr.stats)) == tr.stats
    assert len(tr.stats["mean"]) == len(tr.stats["std"]) == 5


def test_val_and_test_use_the_train_statistics_exactly(npy):
    path, x = npy
    tr = load_split(acfg(path), "train")
    mean, std = np.array(tr.stats["mean"]), np.array(tr.stats["std"])
    for s in ("val", "test"):
        d = load_split(acfg(path), s, stats=tr.stats)
        raw = x[split_indices(400, 0.1, 0, s).numpy()]
        assert torch.equal(d.x, torch.from_numpy(((raw - mean) / std).astype(np.float32)))
        assert d.stats == tr.stats
    # without stats given, val is standardised with the train statistics too (not its own)
    va = load_split(acfg(path), "val")
    assert va.stats == tr.stats and not torch.allclose(va.x.mean(0), torch.zeros(5), atol=1e-6)


def test_given_stats_are_used_verbatim(npy):
    path, x = npy
    stats = {"mean": [1.0, 2.0, 3.0, 4.0, 5.0], "std": [2.0, 2.0, 4.0, 4.0, 8.0]}
    d = load_split(acfg(path), "train", stats=stats)
    raw = x[split_indices(400, 0.1, 0, "train").numpy()]
    expect = (raw - np.array(stats["mean"])) / np.array(stats["std"])
    assert torch.equal(d.x, torch.from_numpy(expect.astype(np.float32)))


def test_splits_partition_the_rows(tmp_path):
    x = np.arange(200, dtype=np.float64).reshape(100, 2)
    x[:, 1] = np.arange(100) ** 2  # two different features, both invertible
    np.save(tmp_path / "r.npy", x)
    tr = load_split(acfg(tmp_path / "r.npy", val_fraction=0.2), "train")
    rows = []
    for s in SPLITS:
        d = load_split(acfg(tmp_path / "r.npy", val_fraction=0.2), s, stats=tr.stats)
        back = d.x.double().numpy() * np.array(tr.stats["std"]) + np.array(tr.stats["mean"])
        rows += np.round(back[:, 0] / 2).astype(int).tolist()
        assert len(d) == {"train": 60, "val": 20, "test": 20}[s]
    assert sorted(rows) == list(range(100))


def test_constant_feature_gets_std_1_and_is_centred(tmp_path):
    x = sample(100, 3)
    x[:, 1] = 7.5
    np.save(tmp_path / "c.npy", x)
    tr = load_split(acfg(tmp_path / "c.npy"), "train")
    assert tr.stats["std"][1] == 1.0 and tr.stats["mean"][1] == pytest.approx(7.5)
    assert torch.equal(tr.x[:, 1], torch.zeros(len(tr)))
    assert torch.isfinite(tr.x).all()


def test_multidimensional_items_are_standardised_per_element(tmp_path):
    x = sample(60, 12).reshape(60, 3, 4)
    np.save(tmp_path / "m.npy", x)
    tr = load_split(acfg(tmp_path / "m.npy"), "train")
    assert tr.x.shape == (48, 3, 4) and tr.event_shape == (3, 4)
    assert np.array(tr.stats["mean"]).shape == (3, 4)
    assert torch.allclose(tr.x.mean(0), torch.zeros(3, 4), atol=1e-5)


def test_integer_and_bool_arrays(tmp_path):
    xi = np.random.default_rng(0).integers(0, 100, (50, 3)).astype(np.int16)
    np.save(tmp_path / "i.npy", xi)
    tr = load_split(acfg(tmp_path / "i.npy"), "train")
    raw = xi[split_indices(50, 0.1, 0, "train").numpy()].astype(np.float64)
    assert torch.allclose(tr.x, torch.from_numpy((raw - raw.mean(0)) / raw.std(0)).float(), atol=1e-6)
    np.save(tmp_path / "b.npy", np.random.default_rng(1).random((50, 3)) > 0.5)
    assert torch.isfinite(load_split(acfg(tmp_path / "b.npy"), "train").x).all()


# --- npz ------------------------------------------------------------------------------------------------------


def test_npz_with_x_and_y_keeps_labels_with_their_rows(tmp_path):
    x = sample(100, 2)
    x[:, 0] = np.arange(100)  # feature 0 encodes the row
    y = np.arange(100) * 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    tr = load_split(acfg(tmp_path / "d.npz"), "train")
    for s in SPLITS:
        d = load_split(acfg(tmp_path / "d.npz"), s, stats=tr.stats)
        rows = np.round(d.x[:, 0].double().numpy() * tr.stats["std"][0] + tr.stats["mean"][0]).astype(int)
        assert d.labels.tolist() == (rows * 3).tolist()
        assert d.labels.tolist() == (split_indices(100, 0.1, 0, s) * 3).tolist()


def test_npz_with_x_only_and_compressed(tmp_path):
    x = sample(50, 3)
    np.savez_compressed(tmp_path / "x.npz", x=x)
    d = load_split(acfg(tmp_path / "x.npz"), "train")
    assert d.labels is None
    raw = x[split_indices(50, 0.1, 0, "train").numpy()]
    assert torch.allclose(d.x, torch.from_numpy((raw - raw.mean(0)) / raw.std(0)).float(), atol=1e-6)


def test_npz_with_a_single_unnamed_array(tmp_path):
    x = sample(50, 3)
    np.savez(tmp_path / "u.npz", x)  # stored as arr_0
    np.save(tmp_path / "u.npy", x)
    a = load_split(acfg(tmp_path / "u.npz"), "val")
    b = load_split(acfg(tmp_path / "u.npy"), "val")
    assert torch.equal(a.x, b.x) and a.labels is None


def test_npz_with_two_other_keys_is_a_data_error(tmp_path):
    np.savez(tmp_path / "two.npz", data=sample(20, 2), target=np.arange(20))
    with pytest.raises(DataError, match="needs a key 'x'") as e:
        load_split(acfg(tmp_path / "two.npz"), "train")
    assert "two.npz" in str(e.value) and "data" in str(e.value) and "target" in str(e.value)


# --- bad inputs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_is_a_data_error_with_count_and_first_item(tmp_path, value):
    x = sample(100, 4)
    x[17, 2] = value
    x[40, 0] = value
    x[40, 3] = value
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(DataError, match=r"3 NaN/inf values \(first in item 17\)") as e:
        load_split(acfg(tmp_path / "bad.npy"), "train")
    assert str(tmp_path / "bad.npy") in str(e.value)


def test_nan_in_float32_npz_is_rejected(tmp_path):
    x = sample(30, 2).astype(np.float32)
    x[29, 1] = np.nan
    np.savez(tmp_path / "f.npz", x=x)
    with pytest.raises(DataError, match=r"1 NaN/inf values \(first in item 29\)"):
        load_split(acfg(tmp_path / "f.npz"), "test")


def test_pickled_object_npy_is_a_data_error(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, {"b": 2}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickled") as e:
        load_split(acfg(tmp_path / "obj.npy"), "train")
    assert "obj.npy" in str(e.value)


def test_a_pickle_disguised_as_npy_is_a_data_error(tmp_path):
    import pickle

    (tmp_path / "p.npy").write_bytes(pickle.dumps([[1.0, 2.0], [3.0, 4.0]]))
    with pytest.raises(DataError, match=r"p\.npy"):
        load_split(acfg(tmp_path / "p.npy"), "train")


def test_string_dtype_is_a_data_error(tmp_path):
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"], ["e", "f"]]))
    with pytest.raises(DataError, match="not numeric"):
        load_split(acfg(tmp_path / "s.npy"), "train")


def test_object_array_inside_npz_is_a_data_error(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}, {"b": 2}], dtype=object))
    with pytest.raises(DataError, match=r"obj\.npz"):
        load_split(acfg(tmp_path / "obj.npz"), "train")


def test_corrupted_npz_member_is_a_data_error(tmp_path):
    np.savez(tmp_path / "c.npz", x=sample(100, 4))
    b = bytearray((tmp_path / "c.npz").read_bytes())
    b[300] ^= 0xFF  # inside the stored x.npy payload: the member's CRC no longer matches
    (tmp_path / "c.npz").write_bytes(bytes(b))
    with pytest.raises(DataError, match=r"c\.npz"):
        load_split(acfg(tmp_path / "c.npz"), "train")


def test_truncated_or_garbage_files_are_data_errors(tmp_path):
    np.save(tmp_path / "t.npy", sample(100, 4))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "g.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.savez(tmp_path / "z.npz", x=sample(100, 4))
    (tmp_path / "z2.npz").write_bytes((tmp_path / "z.npz").read_bytes()[:-30])  # central directory cut
    for name in ("t.npy", "g.npz", "z2.npz"):
        with pytest.raises(DataError, match=name):
            load_split(acfg(tmp_path / name), "train")
    assert zipfile.is_zipfile(tmp_path / "z.npz")


def test_label_count_mismatch_is_a_data_error(tmp_path):
    np.savez(tmp_path / "m.npz", x=sample(50, 2), y=np.arange(49))
    with pytest.raises(DataError, match="50 items but 49 labels") as e:
        load_split(acfg(tmp_path / "m.npz"), "train")
    assert "m.npz" in str(e.value)


@pytest.mark.parametrize("shape", [(1, 4), (0, 4), (7,), ()])
def test_fewer_than_two_items_or_no_feature_axis_is_a_data_error(tmp_path, shape):
    np.save(tmp_path / "small.npy", np.ones(shape))
    with pytest.raises(DataError, match=r"N >= 2") as e:
        load_split(acfg(tmp_path / "small.npy"), "train")
    assert "small.npy" in str(e.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_two_items_do_not_give_nan_statistics(tmp_path):
    np.save(tmp_path / "two.npy", np.array([[1.0, 2.0], [3.0, 5.0]]))
    try:
        va = load_split(acfg(tmp_path / "two.npy"), "val")
    except VaekitError:
        return  # refusing to split is fine too
    assert torch.isfinite(va.x).all()


def test_non_numeric_labels_are_a_data_error(tmp_path):
    np.savez(tmp_path / "sy.npz", x=sample(20, 2), y=np.array(list("abcdefghijklmnopqrst")))
    with pytest.raises(DataError, match=r"sy\.npz"):
        load_split(acfg(tmp_path / "sy.npz"), "train")


def test_missing_array_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist") as e:
        load_split(acfg(tmp_path / "nope.npy"), "train")
    assert "nope.npy" in str(e.value)


def test_stats_of_another_shape_are_a_data_error(npy):
    with pytest.raises(DataError, match="statistics"):
        load_split(acfg(npy[0]), "val", stats={"mean": [0.0] * 4, "std": [1.0] * 4})
