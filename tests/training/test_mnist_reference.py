"""The reference model on real MNIST (needs VAEKIT_DATA; a failure in CI when missing)."""

from __future__ import annotations

import pytest

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.evaluation import evaluate
from vaekit.kinds import load_split


@pytest.mark.mnist
def test_reference_model_one_epoch_test_elbo_above_minus_120(mnist_dir, tmp_path):
    # MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam 1e-3: the reference model.
    cfg = Config(data=DataConfig(dataset="mnist", data_dir=str(mnist_dir), binarize="dynamic"),
                 model=ModelConfig(arch="mlp", hidden=[400], latent_dim=20, likelihood="bernoulli"),
                 train=TrainConfig(epochs=1, batch_size=128, lr=1e-3, progress=False, seed=0, compile=False))
    run = vaekit.train(cfg, out=tmp_path / "mnist")
    test = load_split(cfg.data, "test")
    res = evaluate(run.model, test, k=1, seed=0, progress=False, compile=False)
    assert res["n"] == 10_000
    assert res["elbo"] > -120.0, res["elbo"]
    assert res["active_units"] >= 10
