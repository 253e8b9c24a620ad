"""Training end to end on each kind of data and model the config offers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import vaekit
from tests.conftest import tiny_config
from vaekit.config import Config, DataConfig, ModelConfig
from vaekit.kinds import load_path
from vaekit.runs.metrics import read_metrics


def val_curve(run) -> list[float]:
    return [r["val_elbo"] for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] in ("init", "epoch")]


def test_array_data_with_gaussian_likelihood_learns_and_stores_statistics(tmp_path):
    # Rows on a noisy 2-D linear manifold in 8-D, far from zero mean / unit scale: standardisation matters.
    g = np.random.default_rng(0)
    z = g.normal(size=(3000, 2))
    x = 50.0 + 10.0 * z @ g.normal(size=(2, 8)) + 0.3 * g.normal(size=(3000, 8))
    np.save(tmp_path / "rows.npy", x)
    cfg = Config(data=DataConfig(dataset="array", data_dir=str(tmp_path / "rows.npy")),
                 model=ModelConfig(hidden=[64], latent_dim=2, likelihood="gaussian", variance="per_dim"),
                 train=tiny_config(epochs=4).train)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0] + 3.0  # per-row nats; measured ~8
    stats = json.loads((run.dir / "data_stats.json").read_text())
    assert np.allclose(stats["mean"], x[np.sort(np.random.default_rng(0).permutation(3000))].mean(0), atol=1.0)
    new = load_path(tmp_path / "rows.npy", run.config.data, stats=run.data_stats)
    assert torch.allclose(new.x, torch.from_numpy(((x - stats["mean"]) / np.array(stats["std"])).astype(np.float32)),
                          atol=1e-5)


def test_conv_model_trains_on_shapes(tmp_path):
    cfg = tiny_config(epochs=2)
    cfg.model = ModelConfig(arch="conv", hidden=[64], latent_dim=4, channels_base=8)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0] + 2.0
    assert type(run.model.encoder).__name__ == "ConvEncoder"


@pytest.mark.parametrize("in_memory", [True, False])
def test_folder_data_trains_in_memory_and_through_the_dataloader(tmp_path, in_memory):
    g = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for cls in ("dark", "light"):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            base = 40 if cls == "dark" else 200
            arr = np.clip(base + g.normal(0, 20, size=(20, 24, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.png")
    cfg = Config(data=DataConfig(dataset="folder", data_dir=str(root), image_size=12, channels=1,
                                 in_memory=in_memory),
                 model=ModelConfig(hidden=[32], latent_dim=2), train=tiny_config(epochs=2, batch_size=8).train)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0]
    assert run.event_shape == (1, 12, 12)


@pytest.mark.parametrize("prior", ["mog", "vamp"])
def test_learned_priors_train_and_round_trip(tmp_path, prior):
    cfg = tiny_config(epochs=3)
    cfg.model = ModelConfig(hidden=[64], latent_dim=4, prior=prior, prior_components=8)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0] + 5.0
    assert any(name.startswith("prior.") for name, _ in run.model.named_parameters())
    loaded = vaekit.load(run.dir)  # a VampPrior is re-bound to the loaded encoder
    z = torch.randn(5, 4)
    assert torch.equal(loaded.prior.log_prob(z), run.model.prior.log_prob(z))
    x = torch.rand(3, 1, 16, 16)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.log_likelihood(x, 50, generator=g()), run.model.log_likelihood(x, 50, generator=g()))


def test_discretized_logistic_likelihood_on_8bit_images(tmp_path):
    g = np.random.default_rng(0)
    root = tmp_path / "imgs"
    root.mkdir()
    for i in range(40):
        arr = np.clip(120 + 40 * np.sin(np.arange(12) / 2 + i)[None, :] + g.normal(0, 8, (12, 12)), 0, 255)
        Image.fromarray(arr.astype(np.uint8)).save(root / f"{i}.png")
    cfg = Config(data=DataConfig(dataset="folder", data_dir=str(root), image_size=12, channels=1),
                 model=ModelConfig(hidden=[32], latent_dim=3, likelihood="logistic"),
                 train=tiny_config(epochs=3, batch_size=8).train)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = val_curve(run)
    assert curve[-1] > curve[0]
    bpd = [r["val_bits_per_dim"] for r in run.metrics if r["kind"] == "epoch"]
    assert 0 < bpd[-1] < 8  # an 8-bit image costs at most 8 bits/dim under a uniform model


def test_logistic_likelihood_refuses_binarized_data():
    from vaekit.errors import ConfigError

    with pytest.raises(ConfigError, match="binarize none"):
        Config(data=DataConfig(dataset="mnist", binarize="dynamic"), model=ModelConfig(likelihood="logistic"))
