"""The real MNIST files (skipped locally without them, a failure in CI): counts, labels, mean, digest."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pytest
import torch

from vaekit.config import DataConfig
from vaekit.kinds import load_split

pytestmark = pytest.mark.mnist

TRAIN_IMAGES_SHA256 = "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"  # shared/data/mnist/README.md


_LOADED: dict = {}


@pytest.fixture
def real(mnist_dir):
    """(folder, splits), the splits decoded once per folder for the module's tests."""
    if mnist_dir not in _LOADED:
        cfg = DataConfig(dataset="mnist", data_dir=str(mnist_dir))
        _LOADED[mnist_dir] = {s: load_split(cfg, s) for s in ("train", "val", "test")}
    return mnist_dir, _LOADED[mnist_dir]


def test_split_counts(real):
    _, s = real
    assert {k: len(v) for k, v in s.items()} == {"train": 50_000, "val": 10_000, "test": 10_000}
    assert s["train"].x.shape[1:] == (1, 28, 28)


def test_first_training_labels(real):
    _, s = real
    assert s["train"].labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    for split in s.values():  # every class present, labels in 0..9
        assert torch.unique(split.labels).tolist() == list(range(10))


def test_mean_pixel_of_the_training_set(real):
    _, s = real
    mean = torch.cat([s["train"].x, s["val"].x]).double().mean().item()
    assert mean == pytest.approx(0.1307, abs=5e-4)
    assert s["train"].x.min().item() == 0.0 and s["train"].x.max().item() == 1.0


def test_uncompressed_train_images_digest(real):
    d, s = real
    raw = gzip.decompress((d / "train-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.sha256(raw).hexdigest() == TRAIN_IMAGES_SHA256
    # and the loader's pixels are those bytes / 255 (the first image, independently decoded)
    first = np.frombuffer(raw, np.uint8, count=784, offset=16).reshape(28, 28)
    assert torch.equal(s["train"].x[0, 0], torch.from_numpy(first / 255.0).float())
