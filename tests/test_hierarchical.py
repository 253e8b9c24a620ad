"""Hierarchical VAEs (bottom-up and top-down inference): their numbers check out."""

from __future__ import annotations

import math

import pytest
import torch

import vaekit
from tests.conftest import tiny_config
from vaekit.config import ModelConfig
from vaekit.hierarchical import gaussian
from vaekit.model import build_model
from vaekit.objectives import elbo, iwae_bound, layer_kl

INFERENCE = ["bottom_up", "top_down"]


def model_and_data(inference: str):
    torch.manual_seed(0)
    m = build_model(ModelConfig(hidden=[32], latent_dim=6, latent_layers=[4, 3], layer_hidden=[16],
                                inference=inference), (1, 8, 8)).double()
    x = (torch.rand(12, 1, 8, 8, dtype=torch.float64) < 0.3).double()
    return m, x


@pytest.mark.parametrize("inference", INFERENCE)
def test_elbo_is_the_sum_of_its_terms_and_kls_are_nonnegative(inference):
    m, x = model_and_data(inference)
    g = torch.Generator().manual_seed(1)
    out = m(x, 1, g)
    assert [layer.z.shape[-1] for layer in out.latents] == [6, 4, 3]
    kls = [layer_kl(layer) for layer in out.latents]
    for layer, k in zip(out.latents, kls, strict=True):
        if layer.analytic:
            assert (k >= -1e-12).all()  # a closed-form KL is never negative
    t = elbo(m, x, generator=torch.Generator().manual_seed(1))
    rate = sum(k.sum(-1) for k in kls)
    assert torch.allclose(t.rate, rate) and torch.allclose(t.elbo, -(t.rate + t.distortion))
    assert torch.allclose(t.distortion, -out.px.log_prob(x)[0])
    expected_analytic = [False, False, True] if inference == "bottom_up" else [True, True, True]
    assert [layer.analytic for layer in out.latents] == expected_analytic


@pytest.mark.parametrize("inference", INFERENCE)
def test_analytic_and_monte_carlo_rates_agree_and_iwae_k1_is_the_mc_elbo(inference):
    m, x = model_and_data(inference)
    with torch.no_grad():
        a = torch.stack([elbo(m, x, generator=torch.Generator().manual_seed(s)).elbo for s in range(400)])
        b = torch.stack([elbo(m, x, kl="mc", generator=torch.Generator().manual_seed(s)).elbo for s in range(400)])
        se = (a.var(0) / 400 + b.var(0) / 400).sqrt()
        assert ((a.mean(0) - b.mean(0)).abs() < 4 * se + 1e-9).all()
        for s in range(3):  # the same draws: IWAE with k = 1 is estimator A exactly
            mc = elbo(m, x, kl="mc", generator=torch.Generator().manual_seed(s)).elbo
            iw = iwae_bound(m, x, 1, generator=torch.Generator().manual_seed(s)).elbo
            assert torch.allclose(mc, iw, atol=1e-9)


@pytest.mark.parametrize("inference", INFERENCE)
def test_log_likelihood_estimate_is_above_the_elbo_on_average(inference):
    m, x = model_and_data(inference)
    with torch.no_grad():
        ll = m.log_likelihood(x, k=2000, chunk=300, generator=torch.Generator().manual_seed(0))
        e = torch.stack([elbo(m, x, generator=torch.Generator().manual_seed(s)).elbo for s in range(200)]).mean(0)
    assert ll.mean() > e.mean()
    assert (ll > e - 0.5).all()


@pytest.mark.parametrize("inference", INFERENCE)
def test_hierarchical_model_trains_and_round_trips(tmp_path, inference):
    cfg = tiny_config(epochs=3)
    cfg.model = ModelConfig(hidden=[64], latent_dim=6, latent_layers=[3], layer_hidden=[32], inference=inference)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = [r["val_elbo"] for r in run.metrics if r["kind"] in ("init", "epoch")]
    assert curve[-1] > curve[0] + 5.0  # measured: 11.3 (bottom-up), 14.6 (top-down) nats
    loaded = vaekit.load(run.dir)
    x = torch.rand(4, 1, 16, 16)
    assert torch.equal(loaded.reconstruct(x), run.model.reconstruct(x))
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.sample(3, g()), run.model.sample(3, g()))


LEARNED_PRIORS = [("mog", "bottom_up"), ("mog", "top_down"), ("vamp", "top_down")]


def prior_model(prior: str, inference: str):
    torch.manual_seed(0)
    cfg = ModelConfig(hidden=[32], latent_dim=6, latent_layers=[4, 3], layer_hidden=[16], inference=inference,
                      prior=prior, prior_components=5)
    m = build_model(cfg, (1, 8, 8)).double()
    x = (torch.rand(12, 1, 8, 8, dtype=torch.float64) < 0.3).double()
    return m, x


@pytest.mark.parametrize(("prior", "inference"), LEARNED_PRIORS)
def test_learned_top_prior_terms_iwae_k1_and_log_likelihood(prior, inference):
    m, x = prior_model(prior, inference)
    with torch.no_grad():
        out = m(x, 1, torch.Generator().manual_seed(1))
        top = out.latents[-1]
        assert top.p is m.prior and not top.analytic  # no closed form against a mixture: Monte-Carlo KL
        t = elbo(m, x, generator=torch.Generator().manual_seed(1))
        rate = sum(layer_kl(layer).sum(-1) for layer in out.latents)
        assert torch.allclose(t.rate, rate) and torch.allclose(t.elbo, -(t.rate + t.distortion))
        for s in range(3):  # the same draws: IWAE with k = 1 is estimator A exactly
            mc = elbo(m, x, kl="mc", generator=torch.Generator().manual_seed(s)).elbo
            assert torch.allclose(mc, iwae_bound(m, x, 1, generator=torch.Generator().manual_seed(s)).elbo, atol=1e-9)
        ll = m.log_likelihood(x, k=2000, chunk=500, generator=torch.Generator().manual_seed(0))
        e = torch.stack([elbo(m, x, generator=torch.Generator().manual_seed(s)).elbo for s in range(200)]).mean(0)
    assert ll.mean() > e.mean()


def test_vamp_prior_of_a_hierarchy_mixes_the_top_posteriors_at_the_pseudo_inputs():
    m, _ = prior_model("vamp", "top_down")
    z = torch.randn(7, 3, dtype=torch.float64)
    with torch.no_grad():
        u = m.prior.pseudo_inputs                            # (K, 1, 8, 8)
        q = gaussian(m.bottom_up(u)[-1])                     # q(z_L | u_k): (K, 3)
        comp = torch.distributions.Normal(q.mean, q.std)
        by_hand = torch.logsumexp(comp.log_prob(z[:, None, :]).sum(-1), dim=1) - math.log(5)  # (7,)
        assert torch.allclose(m.prior.log_prob(z), by_hand, atol=1e-10)


def test_learned_prior_hierarchy_trains_and_round_trips(tmp_path):
    cfg = tiny_config(epochs=3)
    cfg.model = ModelConfig(hidden=[64], latent_dim=6, latent_layers=[3], layer_hidden=[32], inference="top_down",
                            prior="vamp", prior_components=20)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = [r["val_elbo"] for r in run.metrics if r["kind"] in ("init", "epoch")]
    assert curve[-1] > curve[0] + 5.0
    loaded = vaekit.load(run.dir)  # built afresh: the prior must be bound to the loaded model's encoder
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.sample(3, g()), run.model.sample(3, g()))
    x = torch.rand(4, 1, 16, 16)
    assert torch.equal(loaded.log_likelihood(x, k=10, generator=g()), run.model.log_likelihood(x, k=10, generator=g()))


def test_vamp_prior_with_bottom_up_inference_is_refused():
    from vaekit.errors import ConfigError

    with pytest.raises(ConfigError, match="inference top_down"):
        ModelConfig(latent_layers=[4], prior="vamp", inference="bottom_up")
