"""Weight decay falls on the layers' weight matrices only; dropout regularises training, never evaluation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import vaekit
from tests.conftest import tiny_config
from vaekit.config import ModelConfig, TrainConfig
from vaekit.data import TensorData
from vaekit.errors import ConfigError
from vaekit.evaluation import evaluate
from vaekit.model import build_model
from vaekit.training.optim import make_optimizer, parameter_groups


def vamp_hierarchy(dropout: float = 0.0) -> nn.Module:
    cfg = ModelConfig(hidden=[16], latent_dim=4, latent_layers=[2], layer_hidden=[8], inference="top_down",
                      prior="vamp", prior_components=3, dropout=dropout)
    torch.manual_seed(0)
    return build_model(cfg, (1, 4, 4), data=torch.rand(3, 1, 4, 4))


def test_decay_groups_hold_every_parameter_once_and_decay_only_linear_weights():
    model = vamp_hierarchy()
    decayed, kept = parameter_groups(model, 0.1)
    assert (decayed["weight_decay"], kept["weight_decay"]) == (0.1, 0.0)
    ids = [id(p) for g in (decayed, kept) for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters()) and len(set(ids)) == len(ids)
    linear = {id(m.weight) for m in model.modules() if isinstance(m, nn.Linear)}
    assert {id(p) for p in decayed["params"]} == linear
    assert id(model.prior.pseudo_raw) in {id(p) for p in kept["params"]}  # the pseudo-inputs live in data space


def test_adamw_step_with_zero_gradient_shrinks_weights_and_leaves_the_rest():
    # AdamW with g = 0: Adam's update is 0, the decoupled decay multiplies each decayed weight by (1 - lr * wd)
    model = vamp_hierarchy()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = make_optimizer(model, TrainConfig(lr=0.1, weight_decay=0.5), torch.device("cpu"))
    assert isinstance(opt, torch.optim.AdamW)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    w = dict(model.named_parameters())
    torch.testing.assert_close(w["decoder.net.0.weight"], before["decoder.net.0.weight"] * 0.95)
    for name in ("decoder.net.0.bias", "prior.pseudo_raw", "down.0.0.bias"):
        assert torch.equal(w[name], before[name]), name
    assert isinstance(make_optimizer(model, TrainConfig(lr=0.1), torch.device("cpu")), torch.optim.Adam)


def test_dropout_is_on_in_training_and_off_in_evaluation():
    model = vamp_hierarchy(dropout=0.5)
    plain = vamp_hierarchy(dropout=0.0)
    # the same weights: dropout adds modules without parameters (the linear layers' indices shift)
    for a, b in zip(plain.parameters(), model.parameters(), strict=True):
        b.data.copy_(a.data)
    z = torch.randn(6, 4)
    model.train()
    assert not torch.equal(model.decoder(z), model.decoder(z))  # a fresh mask each call
    assert (model.decoder.net[2](torch.ones(1000)) == 0).float().mean().item() == pytest.approx(0.5, abs=0.06)
    data = TensorData(torch.rand(20, 1, 4, 4), binarize="dynamic")
    a = evaluate(model, data, k=50, seed=1, progress=False, compile=False)
    b = evaluate(plain, data, k=50, seed=1, progress=False, compile=False)
    assert a == b  # evaluation switches dropout off: the same numbers as the network without it


def test_training_with_dropout_and_weight_decay_lowers_the_loss(tmp_path):
    cfg = tiny_config(epochs=3, weight_decay=0.01)
    cfg.model.dropout = 0.1
    run = vaekit.train(cfg, out=tmp_path / "run")
    ep = [r for r in run.metrics if r["kind"] == "epoch"]
    assert ep[-1]["val_elbo"] > ep[0]["val_elbo"] + 1.0
    assert isinstance(run.model.decoder.net[2], nn.Dropout) and not run.model.training


@pytest.mark.parametrize("model", [{"dropout": -0.1}, {"dropout": 1.0}, {"dropout": 0.2, "arch": "conv"}])
def test_bad_dropout_is_refused(model):
    with pytest.raises(ConfigError, match="dropout"):
        ModelConfig(**model)
