"""Data: shapes, MNIST (parsing, lookup, download with checksums — offline through a local server),
folders, arrays; every bad input is a DataError naming the file."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.config import DataConfig
from vaekit.data import fixed_binarization, iterate_batches, load_path, load_split, mnist_files
from vaekit.data import mnist as mnist_mod
from vaekit.data.shapes import RADIUS, render
from vaekit.errors import ConfigError, DataError


def test_shapes_are_deterministic_disjoint_and_well_formed():
    cfg = DataConfig(image_size=32, subset=600)
    tr, va, te = (load_split(cfg, s) for s in ("train", "val", "test"))
    assert (len(tr), len(va), len(te)) == (480, 60, 60)
    assert torch.equal(load_split(cfg, "val").x, va.x)
    assert not torch.equal(load_split(DataConfig(image_size=32, subset=600, data_seed=1), "val").x, va.x)
    rows = lambda d: {tuple(r) for r in d.labels.tolist()}  # noqa: E731
    assert not (rows(tr) & rows(va)) and not (rows(va) & rows(te))
    assert set(torch.unique(tr.x).tolist()) <= {0.0, 1.0}
    lab = tr.labels
    assert lab[:, 0].min() >= 0 and lab[:, 0].max() <= 2 and lab[:, 1].min() >= 0.5 and lab[:, 1].max() <= 1.0
    assert lab[:, 3:].min() >= 0 and lab[:, 3:].max() <= 1


def test_sprite_areas_match_geometry():
    size = 64
    f = np.array([[0, 1.0, 0.0, 0.5, 0.5], [1, 1.0, 0.0, 0.5, 0.5], [0, 1.0, np.pi / 2, 0.5, 0.5]], np.float32)
    img = render(f, size)
    half = 0.8 * RADIUS * size  # the square's half side in pixels
    assert img[0].sum() == pytest.approx((2 * half) ** 2, rel=0.08)
    a = RADIUS * size
    assert img[1].sum() == pytest.approx(np.pi * a * a / 2, rel=0.08)  # ellipse with semi-axes a, a/2
    assert np.abs(img[0] - img[2]).sum() <= 4  # a square turned by 90 degrees is the same square


def write_idx(path: Path, arr: np.ndarray, magic: int) -> None:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def fake_mnist(folder: Path, n_train=12, n_test=5, seed=0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    xs, ys = g.integers(0, 256, (n_train, 28, 28)), g.integers(0, 10, n_train)
    write_idx(folder / "train-images-idx3-ubyte.gz", xs, 2051)
    write_idx(folder / "train-labels-idx1-ubyte.gz", ys, 2049)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", g.integers(0, 256, (n_test, 28, 28)), 2051)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", g.integers(0, 10, n_test), 2049)
    return xs, ys


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    monkeypatch.delenv("VAEKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(mnist_mod, "N_TRAIN", 8)


def test_mnist_idx_round_trip_and_splits(tmp_path, no_env):
    xs, ys = fake_mnist(tmp_path / "mnist")
    cfg = DataConfig(dataset="mnist", data_dir=str(tmp_path))  # the folder holding mnist/ works too
    tr, va = load_split(cfg, "train"), load_split(cfg, "val")
    assert torch.equal(tr.x[:, 0], torch.from_numpy(xs[:8] / 255.0).float())
    assert tr.labels.tolist() == ys[:8].tolist() and va.labels.tolist() == ys[8:].tolist()
    st = DataConfig(dataset="mnist", data_dir=str(tmp_path / "mnist"), binarize="static")
    a, b = load_split(st, "train"), load_split(st, "train")
    assert torch.equal(a.x, b.x) and set(torch.unique(a.x).tolist()) <= {0.0, 1.0}
    with pytest.raises(ConfigError, match="28x28"):
        load_split(DataConfig(dataset="mnist", data_dir=str(tmp_path), image_size=32), "train")


@pytest.mark.parametrize("damage, needle", [
    (lambda p: write_idx(p, np.zeros((3, 28, 28)), 2049), "magic number 2049, expected 2051"),
    (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-100])), "truncated"),
    (lambda p: p.write_bytes(b"not a gzip file at all"), "not a readable gzip"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable gzip"),
    (lambda p: write_idx(p, np.zeros((11, 28, 28)), 2051), "11 images but"),
])
def test_bad_idx_files_name_the_file(tmp_path, no_env, damage, needle):
    fake_mnist(tmp_path)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    damage(target)
    with pytest.raises(DataError, match=needle) as e:
        load_split(DataConfig(dataset="mnist", data_dir=str(tmp_path)), "train")
    assert str(tmp_path) in str(e.value)


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def mirror(tmp_path):
    root = tmp_path / "served"
    fake_mnist(root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: Handler(*a, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", root
    server.shutdown()
    server.server_close()


def digests(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in root.glob("*.gz")}


def test_download_checks_sha256_and_lands_in_the_cache(tmp_path, no_env, mirror):
    url, root = mirror
    dead = "http://127.0.0.1:9/"  # nothing listens there: the next mirror is tried
    folder = mnist_files(None, mirrors=[dead, url + "missing/", url], digests=digests(root), timeout=5)
    assert folder == tmp_path / "cache" / "vaekit" / "mnist"
    assert digests(folder) == digests(root)
    assert len(load_split(DataConfig(dataset="mnist"), "test")) == 5


def test_download_with_a_wrong_checksum_saves_nothing(tmp_path, no_env, mirror):
    url, root = mirror
    bad = {**digests(root), "train-images-idx3-ubyte.gz": "0" * 64}
    with pytest.raises(DataError, match=r"checksum mismatch for train-images-idx3-ubyte\.gz") as e:
        mnist_files(None, mirrors=[url], digests=bad, timeout=5)
    assert "0" * 64 in str(e.value) and digests(root)["train-images-idx3-ubyte.gz"] in str(e.value)
    cache = tmp_path / "cache" / "vaekit" / "mnist"
    assert not cache.exists() or not any(p.name.startswith(("train-images", ".train-images")) for p in cache.iterdir())


def test_offline_error_says_which_files_to_put_where(tmp_path, no_env):
    with pytest.raises(DataError) as e:
        mnist_files(None, mirrors=["http://127.0.0.1:9/"], timeout=2)
    msg = str(e.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and str(tmp_path / "cache") in msg and "VAEKIT_DATA" in msg


@pytest.mark.mnist
def test_real_mnist(mnist_dir):
    cfg = DataConfig(dataset="mnist", data_dir=str(mnist_dir))
    tr, va, te = (load_split(cfg, s) for s in ("train", "val", "test"))
    assert (len(tr), len(va), len(te)) == (50_000, 10_000, 10_000)
    assert tr.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert torch.cat([tr.x, va.x]).mean().item() == pytest.approx(0.1307, abs=5e-4)
    raw = gzip.decompress((mnist_dir / "train-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"


def test_batches_cover_every_item_once_and_dynamic_binarization_is_seeded():
    x = torch.rand(103, 1, 4, 4)
    from vaekit.data import TensorData

    data = TensorData(x, torch.arange(103), binarize="dynamic")
    seen = torch.cat([y for _, y in iterate_batches(data, 10, generator=torch.Generator().manual_seed(0))])
    assert sorted(seen.tolist()) == list(range(103)) and seen.tolist() != list(range(103))
    run = lambda s: torch.cat([b for b, _ in iterate_batches(data, 10, generator=torch.Generator().manual_seed(s))])  # noqa: E731
    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))
    draws = torch.stack([run(s) for s in range(200)])  # (200, N, ...) fresh draws: mean -> the gray levels
    assert set(torch.unique(draws).tolist()) == {0.0, 1.0}
    assert abs(draws.mean() - x.mean()) < 4 * (0.25 / draws.numel()) ** 0.5
    assert len(list(iterate_batches(data, 10, drop_last=True))) == 10
    fixed = fixed_binarization(data, 3)
    assert torch.equal(fixed.x, fixed_binarization(data, 3).x) and fixed.binarize == "static"


def test_folder_images_resize_crop_labels_and_errors(tmp_path):
    root = tmp_path / "imgs"
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            arr = np.zeros((30, 60, 3), np.uint8)
            arr[:, 30:] = 255  # left half black, right half white: survives resize + centre crop
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    cfg = DataConfig(dataset="folder", data_dir=str(root), image_size=10, channels=1, subset=10)
    data = torch.cat([load_split(cfg, s).x for s in ("train", "val", "test")])
    assert data.shape == (10, 1, 10, 10)
    assert (data[:, 0, :, :4] < 0.05).all() and (data[:, 0, :, 6:] > 0.95).all()
    assert load_split(cfg, "train").label_names == ["a", "b"]
    (root / "a" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"broken\.png"):
        load_split(cfg, "train")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_split(DataConfig(dataset="folder", data_dir=str(tmp_path / "empty")), "train")


def test_arrays_standardise_with_train_statistics_and_reject_bad_values(tmp_path):
    g = np.random.default_rng(0)
    x = g.normal(5.0, 3.0, size=(500, 4))
    x[:, 3] = 7.0  # a constant feature: std 1, only centred
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(500))
    cfg = DataConfig(dataset="array", data_dir=str(tmp_path / "d.npz"))
    tr = load_split(cfg, "train")
    assert torch.allclose(tr.x.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(tr.x[:, :3].std(0, unbiased=False), torch.ones(3), atol=1e-5)
    va = load_split(cfg, "val", stats=tr.stats)
    raw = x[va.labels.numpy()]
    assert torch.allclose(va.x, torch.from_numpy((raw - tr.stats["mean"]) / np.array(tr.stats["std"])).float())
    bad = x.copy()
    bad[17, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match=r"nan.npy: 1 NaN/inf values \(first in item 17\)"):
        load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "nan.npy")), "train")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, {"b": 2}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match=r"obj\.npy"):
        load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "obj.npy")), "train")
    np.savez(tmp_path / "mismatch.npz", x=x, y=np.arange(3))
    with pytest.raises(DataError, match="500 items but 3 labels"):
        load_split(DataConfig(dataset="array", data_dir=str(tmp_path / "mismatch.npz")), "train")
    with pytest.raises(DataError, match="does not exist"):
        load_path(tmp_path / "nothing.npy", cfg)
