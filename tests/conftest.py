"""Shared fixtures: a tiny config that trains in seconds, and the MNIST folder (or skip / fail)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig


def tiny_config(**train: object) -> Config:
    """Shapes at 16x16, a small MLP: one epoch takes well under a second."""
    t = {"epochs": 2, "batch_size": 32, "lr": 5e-3, "progress": False, "compile": False, "grid": 16, "log_every": 5,
         "report": False, **train}
    return Config(data=DataConfig(dataset="shapes", image_size=16, subset=1500),
                  model=ModelConfig(hidden=[64], latent_dim=4),
                  train=TrainConfig(**t))


@pytest.fixture
def tiny_cfg() -> Config:
    return tiny_config()


def find_mnist() -> Path | None:
    roots = [os.environ.get("VAEKIT_DATA"), str(Path(__file__).resolve().parents[2] / "shared" / "data")]
    for root in filter(None, roots):
        d = Path(root) / "mnist"
        if (d / "t10k-images-idx3-ubyte.gz").is_file():
            return d
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    d = find_mnist()
    if d is None:
        msg = "MNIST not found: set VAEKIT_DATA to a folder with mnist/ (e.g. ../shared/data)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)  # CI must run the MNIST tests: a missing dataset is a failure there
        pytest.skip(msg)
    return d
