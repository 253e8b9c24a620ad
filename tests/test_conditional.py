"""The class-conditional VAE (Sohn et al. 2015): it trains on MNIST, a classifier trained here
recognises the requested class in converted images and in class samples, and the CLI draws both."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import vaekit
from tests.conftest import tiny_config
from vaekit.cli import main
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.data import fixed_binarization
from vaekit.errors import ConfigError
from vaekit.kinds import load_split
from vaekit.viz.convert import class_samples, conversion_rows


@pytest.fixture(scope="module")
def cvae(mnist_dir, tmp_path_factory):
    cfg = Config(DataConfig(dataset="mnist", data_dir=str(mnist_dir), binarize="dynamic"),
                 # 2 latents: too few to carry the class as well, so the label has to (8 latents: 56% recognised)
                 ModelConfig(hidden=[400], latent_dim=2, conditional=True),
                 TrainConfig(epochs=3, batch_size=128, progress=False, report=False))
    return vaekit.train(cfg, out=tmp_path_factory.mktemp("cvae") / "run")


@pytest.fixture(scope="module")
def classifier(cvae):
    """A small MLP classifier of MNIST digits (784-256-10, 2 epochs; ~97% on the test set)."""
    torch.manual_seed(0)
    train = load_split(cvae.config.data, "train")
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(2):
        for idx in torch.randperm(len(train)).split(128):
            loss = torch.nn.functional.cross_entropy(net(train.x[idx]), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def accuracy(net, x, y) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


@pytest.mark.mnist
def test_the_conditional_model_learns_and_stores_its_classes(cvae):
    assert cvae.config.model.n_classes == 10 and cvae.model.n_classes == 10
    ep = [r for r in cvae.metrics if r["kind"] == "epoch"]
    assert ep[-1]["val_elbo"] > -150  # 3 epochs: measured -137 (a bound on log p(x|y) with 2 latents)
    loaded = vaekit.load(cvae.dir)
    x, y = load_split(cvae.config.data, "test").take(8).x, torch.arange(8)
    assert torch.equal(loaded.reconstruct(x, y), cvae.model.reconstruct(x, y))
    with pytest.raises(ConfigError, match="class-conditional"):
        loaded.decode(torch.zeros(2, 2))  # the label is required


@pytest.mark.mnist
def test_converted_images_and_class_samples_are_recognised_as_the_requested_class(cvae, classifier):
    test = load_split(cvae.config.data, "test").take(300)
    assert accuracy(classifier, test.x, test.labels) > 0.9  # the judge itself is good
    rows = conversion_rows(cvae.model, test.x[:100], test.labels[:100])  # (100, 2 + 10, 1, 28, 28)
    converted = rows[:, 2:].reshape(1000, 1, 28, 28)
    targets = torch.arange(10).repeat(100)
    acc = accuracy(classifier, converted, targets)
    assert acc >= 0.8, f"converted images recognised as the target class: {acc:.2%}"  # measured 94.9%
    samples = class_samples(cvae.model, 20, seed=1).reshape(200, 1, 28, 28)
    assert accuracy(classifier, samples, torch.arange(10).repeat_interleave(20)) >= 0.8  # measured 97.5%


@pytest.mark.mnist
def test_cli_sample_label_and_convert(cvae, tmp_path, capsys):
    out = tmp_path / "sevens.png"
    assert main(["sample", str(cvae.dir), "-n", "16", "--label", "7", "--out", str(out)]) == 0
    assert np.load(out.with_suffix(".npy")).shape == (16, 1, 28, 28)
    conv = tmp_path / "conv.png"
    assert main(["convert", str(cvae.dir), "-n", "4", "--out", str(conv)]) == 0
    assert np.load(conv.with_suffix(".npy")).shape == (4, 12, 1, 28, 28)  # input, reconstruction, 10 classes
    assert Image.open(conv).size == (12 * 30 + 2, 4 * 30 + 2)
    assert main(["convert", str(cvae.dir), "-n", "3", "--to", "7", "--out", str(conv)]) == 0
    arr = np.load(conv.with_suffix(".npy"))
    x = fixed_binarization(load_split(cvae.config.data, "test").take(3), 0)  # the CLI's one seeded draw
    assert np.allclose(arr[:, 2], cvae.model.convert(x.x, x.labels, torch.full((3,), 7)).numpy(), atol=1e-6)
    assert main(["sample", str(cvae.dir), "--label", "10", "--out", str(out)]) == 2
    assert "--label 10 is out of range" in capsys.readouterr().err


def test_conditional_needs_integer_class_labels_and_a_conditional_model(tmp_path, capsys):
    cfg = tiny_config(epochs=1)
    cfg.model.conditional = True
    with pytest.raises(ConfigError, match="integer class labels"):  # shapes carry factor values
        vaekit.train(cfg, out=tmp_path / "c")
    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "plain")
    assert main(["sample", str(run.dir), "--label", "3", "--out", str(tmp_path / "s.png")]) == 2
    assert "--conditional" in capsys.readouterr().err
    assert main(["convert", str(run.dir), "--out", str(tmp_path / "c.png")]) == 2
