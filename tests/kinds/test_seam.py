"""The modality seam: a kind of data added in a test (variable-length sequences, `Padded` batches) trains,
validates, checkpoints, reloads and evaluates through the same loop, objectives and evaluation as images,
with one registry entry and no case of its own anywhere else."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from tests.conftest import tiny_config
from vaekit import kinds
from vaekit.config import DataConfig
from vaekit.data import Padded, SequenceData, iterate_batches
from vaekit.evaluation import evaluate
from vaekit.kinds.base import Kind, Unit
from vaekit.objectives import elbo, iwae_bound
from vaekit.runs import load_run
from vaekit.training.loop import train

T_MAX, F = 6, 2


class MaskedGaussian:
    """N(x_t; mean_t, 1) over the steps that exist: padding contributes nothing."""

    def __init__(self, mean: torch.Tensor) -> None:
        self.mean = mean  # (*S, T_MAX, F)

    def log_prob(self, x: Padded) -> torch.Tensor:
        t = x.values.shape[1]
        per_step = -0.5 * ((x.values - self.mean[..., :t, :]) ** 2 + math.log(2 * math.pi)).sum(-1)  # (*S, B, T)
        return (per_step * x.mask).sum(-1)  # (*S, B)


class MaskedGaussianHead(nn.Module):
    params_per_dim = 1

    def forward(self, h: torch.Tensor) -> MaskedGaussian:
        return MaskedGaussian(h.view(*h.shape[:-1], T_MAX, F))


class MeanPoolEncoder(nn.Module):
    def __init__(self, latent: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(F + 1, 32), nn.Tanh(), nn.Linear(32, 2 * latent))

    def forward(self, x: Padded) -> torch.Tensor:
        m = x.mask.unsqueeze(-1).to(x.values.dtype)  # (B, T, 1)
        pooled = (x.values * m).sum(1) / m.sum(1)  # (B, F)
        return self.net(torch.cat([pooled, x.lengths[:, None].to(pooled.dtype) / T_MAX], -1))


class Decoder(nn.Module):
    def __init__(self, latent: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, 32), nn.Tanh(), nn.Linear(32, T_MAX * F))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def set_output_bias(self, b: torch.Tensor) -> None:  # the image kinds' decoders start at the data mean
        pass


def walks(n: int, seed: int) -> list[torch.Tensor]:
    """Sequences of 2 to T_MAX steps: a constant level per item plus noise, so z has something to carry."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, T_MAX + 1, (n,), generator=g)
    levels = 3 * torch.randn(n, 1, F, generator=g)
    return [levels[i] + 0.3 * torch.randn(int(lengths[i]), F, generator=g) for i in range(n)]


class WalkKind(Kind):
    name = "walks"
    datasets = ("walks",)
    architectures = ("mlp",)
    likelihoods = ("gaussian",)

    def load_split(self, cfg, split, stats=None):
        n, seed = {"train": (300, 0), "val": (60, 1), "test": (60, 2)}[split]
        return SequenceData(walks(n, seed), max_length=T_MAX, kind="walks")

    def networks(self, cfg, event_shape, params_per_dim, stats=None):
        return MeanPoolEncoder(cfg.latent_dim), Decoder(cfg.latent_dim)

    def likelihood(self, cfg, event_shape, stats=None):
        return MaskedGaussianHead()

    def unit(self, model, data):
        return Unit("nats/sequence", "nats_per_sequence", 1.0)  # a unit of its own, for the test's sake


@pytest.fixture
def walk_kind(monkeypatch):
    monkeypatch.setattr(kinds, "KINDS", (*kinds.KINDS, WalkKind()))
    return kinds.kind_of("walks")


def walk_config(**train):
    cfg = tiny_config(**train)
    cfg.data = DataConfig(dataset="walks")
    cfg.model.likelihood, cfg.model.latent_dim = "gaussian", 2
    return cfg


def test_sequences_come_as_padded_batches_with_their_lengths(walk_kind):
    data = walk_kind.load_split(DataConfig(dataset="walks"), "train")
    (x, y), *_ = list(iterate_batches(data, 8, shuffle=False))
    assert isinstance(x, Padded) and y is None and len(x) == 8
    assert x.lengths.tolist() == [len(it) for it in data.items[:8]]
    assert torch.equal(x.values[0, :len(data.items[0])], data.items[0])
    assert not x.mask[x.lengths < T_MAX].all()  # shorter items are masked
    assert torch.equal(x[2:5].lengths, x.lengths[2:5])


def test_a_new_kind_trains_reloads_and_evaluates_through_the_shared_core(walk_kind, tmp_path):
    run = train(walk_config(epochs=4, lr=1e-2, batch_size=32), out=tmp_path / "run")
    records = [r for r in run.metrics if r.get("kind") in ("init", "epoch")]
    assert records[-1]["val_elbo"] > records[0]["val_elbo"] + 20.0  # it learns (~ -160 -> ~ -45 nats)
    again = load_run(run.dir)  # the run folder reloads through the kind (networks and likelihood)
    test = walk_kind.load_split(run.config.data, "test")
    x = next(iter(iterate_batches(test, 16, shuffle=False)))[0]
    torch.manual_seed(0)
    a = elbo(run.model, x).elbo
    torch.manual_seed(0)
    b = elbo(again.model, x).elbo
    assert torch.equal(a, b)
    res = evaluate(again.model, test, k=50, compile=False)  # the unit: the data's kind's
    assert res["log_likelihood"] >= res["elbo"] - 1e-3  # IS estimate >= ELBO on average (Burda et al.)
    assert res["unit"] == "nats/sequence" and res["nats_per_sequence"] == pytest.approx(-res["log_likelihood"])
    assert "val_nats_per_sequence" in records[-1]  # validation reports it too
    torch.manual_seed(1)
    k1 = iwae_bound(again.model, x, 1).elbo
    torch.manual_seed(1)
    assert torch.allclose(k1, elbo(again.model, x, kl="mc").elbo, atol=1e-4)  # IWAE(k=1) == ELBO (estimator A)
