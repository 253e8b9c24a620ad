"""Shared fixtures: a tiny config that trains in seconds, tiny sentence runs, and the MNIST folder (or skip /
fail)."""

from __future__ import annotations

import os
from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def compile_records(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' compiled runs keep their timing records (vaekit.fast.cache) out of the user's cache,
    where they would steer later `--compile auto` runs; inductor's kernels stay in the usual folder."""
    from vaekit.fast import cache

    with pytest.MonkeyPatch.context() as mp:
        root = cache.cache_root()
        if root is not None and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
            mp.setenv("TORCHINDUCTOR_CACHE_DIR", str(root / "inductor"))
        mp.setenv(cache.ENV, str(tmp_path_factory.mktemp("compile-cache")))
        yield


@pytest.fixture
def tiny_cfg() -> Config:
    return tiny_config()


def tiny_text_run(path: Path, arch: str = "lstm", conditional: bool = False) -> Path:
    """A sentence model (`--model lstm` or `lm`) on 300 `text-shapes` sentences, one epoch (a few seconds)."""
    from vaekit.api import train

    cfg = Config(data=DataConfig(dataset="text-shapes", subset=300),
                 model=ModelConfig(arch=arch, embed_dim=8, rnn_hidden=16, latent_dim=4, conditional=conditional),
                 train=TrainConfig(epochs=1, batch_size=32, progress=False, report=False))
    train(cfg, out=path)
    return path


def lively(run_dir: Path):
    """The tiny sentence run with its code made to matter: the one-epoch model has collapsed (every sentence
    decodes alike, which would let a wrong answer pass), so the encoder's output layer is scaled up 30 times
    and the map from z to the decoder's initial state and the output layer are drawn afresh (seeded, N(0,
    3^2)): different sentences get different codes, and different codes and classes decode to different
    words."""
    import torch

    from vaekit.runs import load_run

    run = load_run(run_dir)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        run.model.encoder.head.weight.mul_(30)
        for layer in (run.model.decoder.proj, run.model.likelihood_head.out):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 3)
    return run


def tiny_sound_run(path: Path, epochs: int = 2, conditional: bool = False) -> Path:
    """A sound model (a small conv net, 4 latent dimensions) on 160 `tones` of 0.25 s (items (1, 128, 16)),
    `epochs` epochs (about a second each); `conditional`: conditioned on the note (8 classes)."""
    from vaekit.api import train

    cfg = Config(data=DataConfig(dataset="tones", subset=160, clip_seconds=0.25),
                 model=ModelConfig(arch="conv", channels_base=8, hidden=[32], latent_dim=4, conditional=conditional),
                 train=TrainConfig(epochs=epochs, batch_size=16, lr=3e-3, progress=False, compile=False, grid=4,
                                   report=False))
    train(cfg, out=path, callbacks=[])
    return path


@pytest.fixture(scope="session")
def sound_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sound_run(tmp_path_factory.mktemp("sound") / "run")


@pytest.fixture(scope="session")
def conditional_sound_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_sound_run(tmp_path_factory.mktemp("sound-cond") / "run", conditional=True)


@pytest.fixture(scope="session")
def text_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_text_run(tmp_path_factory.mktemp("text") / "run")


@pytest.fixture(scope="session")
def conditional_text_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_text_run(tmp_path_factory.mktemp("text-cond") / "run", conditional=True)


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
