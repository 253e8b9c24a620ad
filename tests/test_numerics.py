"""The maths against independent references: torch.distributions, standard errors, and an exact
log-likelihood (probabilistic PCA)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.distributions as D
import torch.nn.functional as F
from torch import nn

from vaekit.config import ModelConfig
from vaekit.distributions import BernoulliLogits, DiagonalGaussian, GaussianHead, GaussianPixels, StandardNormal
from vaekit.model import VAE, build_model
from vaekit.objectives import beta_at, elbo, iwae_bound


@pytest.fixture(autouse=True)
def float64():
    """Tight tolerances need float64; restored after each test so no other module sees it."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def rand_gaussian(shape=(5, 4), seed=0) -> DiagonalGaussian:
    g = torch.Generator().manual_seed(seed)
    return DiagonalGaussian(torch.randn(shape, generator=g), torch.randn(shape, generator=g) * 0.5)


def as_torch(q: DiagonalGaussian) -> D.Independent:
    return D.Independent(D.Normal(q.mean, q.std), 1)


def test_analytic_kl_equals_torch_distributions():
    q, p = rand_gaussian(seed=0), rand_gaussian(seed=1)
    assert torch.allclose(q.kl(p), D.kl_divergence(as_torch(q), as_torch(p)), atol=1e-12)
    std = D.Independent(D.Normal(torch.zeros(5, 4), torch.ones(5, 4)), 1)
    assert torch.allclose(q.kl(StandardNormal(4)), D.kl_divergence(as_torch(q), std), atol=1e-12)


def test_monte_carlo_kl_agrees_within_its_standard_error():
    q, prior = rand_gaussian(), StandardNormal(4)
    z = q.rsample(20000, generator=torch.Generator().manual_seed(0))  # (N, 5, 4)
    est = q.log_prob(z) - prior.log_prob(z)                            # (N, 5)
    se = est.std(0) / math.sqrt(len(est))
    assert ((est.mean(0) - q.kl(prior)).abs() < 4 * se).all()


def test_log_probs_equal_torch_distributions():
    q = rand_gaussian()
    z = torch.randn(7, 5, 4)
    assert torch.allclose(q.log_prob(z), as_torch(q).log_prob(z), atol=1e-12)
    assert torch.allclose(q.entropy(), as_torch(q).entropy(), atol=1e-12)
    assert torch.allclose(StandardNormal(4).log_prob(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1), atol=1e-12)
    mean, x = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    for log_scale in (torch.tensor(-0.3), torch.randn(1, 4, 4) * 0.2):
        ref = D.Independent(D.Normal(mean, log_scale.exp().expand_as(mean)), 3).log_prob(x)
        assert torch.allclose(GaussianPixels(mean, log_scale, 3).log_prob(x), ref, atol=1e-10)


def test_bernoulli_log_prob_equals_torch_and_is_stable():
    logits = torch.cat([torch.randn(4, 10) * 3, torch.tensor([[50.0, -50.0] * 5])])
    x = (torch.rand(5, 10) < 0.5).double()
    ref = D.Independent(D.Bernoulli(logits=logits), 1).log_prob(x)
    got = BernoulliLogits(logits, 1).log_prob(x)
    assert torch.allclose(got, ref, atol=1e-10) and torch.isfinite(got).all()
    frac = torch.rand(5, 10)  # grayscale targets in [0, 1]: x log σ(l) + (1 - x) log σ(-l)
    by_hand = (frac * F.logsigmoid(logits) + (1 - frac) * F.logsigmoid(-logits)).sum(-1)
    assert torch.allclose(BernoulliLogits(logits, 1).log_prob(frac), by_hand, atol=1e-10)


def test_rsample_is_reparameterised_with_the_right_moments():
    mean = torch.zeros(3, requires_grad=True)
    q = DiagonalGaussian(mean, torch.log(torch.tensor([0.25, 1.0, 4.0])))
    z = q.rsample(40000, generator=torch.Generator().manual_seed(0))
    z.sum().backward()
    assert torch.equal(mean.grad, torch.full((3,), 40000.0))
    var = torch.tensor([0.25, 1.0, 4.0])
    assert (z.mean(0).abs() < 4 * (var / 40000).sqrt()).all()
    assert ((z.var(0) - var).abs() < 4 * var * math.sqrt(2 / 40000)).all()


def test_a_network_head_keeps_its_log_variance_inside_the_bounds():
    from vaekit.distributions.gaussian import LOGVAR_MAX, LOGVAR_MIN

    logvar = torch.tensor([-200.0, -29.0, 0.5, 7.9, 156.0], requires_grad=True)
    q = DiagonalGaussian.from_head(torch.cat([torch.zeros(5), logvar]))
    assert q.logvar.tolist() == [LOGVAR_MIN, -29.0, 0.5, pytest.approx(7.9), LOGVAR_MAX]
    q.logvar.sum().backward()
    assert logvar.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # inside the bounds: the identity
    # the one bad update of the diverged run: log-variance 156 overflowed exp(); bounded, every term is finite
    z = q.rsample(generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(q.log_prob(z)) and torch.isfinite(q.kl_per_dim(StandardNormal(5)).sum())


def test_gaussian_head_variance_modes():
    fixed, glob, per = (GaussianHead((2, 3), m, 0.5) for m in ("fixed", "global", "per_dim"))
    assert [p.numel() for p in fixed.parameters()] == [] and "log_scale" in dict(fixed.named_buffers())
    assert [p.shape for p in glob.parameters()] == [torch.Size([])]
    assert [p.shape for p in per.parameters()] == [torch.Size([2, 3])]
    h, x = torch.zeros(1, 2, 3), torch.ones(1, 2, 3)
    expected = 6 * (-0.5 * math.log(2 * math.pi) - math.log(0.5) - 0.5 * (1 / 0.5) ** 2)
    assert fixed(h).log_prob(x).item() == pytest.approx(expected)


def small_model(likelihood="bernoulli"):
    torch.manual_seed(0)
    return build_model(ModelConfig(hidden=[16], latent_dim=3, likelihood=likelihood), (6,)).double()


def test_elbo_terms_beta_and_free_bits():
    m = small_model()
    x = (torch.rand(8, 6) < 0.4).double()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    t = elbo(m, x, generator=g())
    q = m.posterior(x)
    assert torch.allclose(t.elbo, -(t.rate + t.distortion)) and torch.allclose(t.rate, q.kl(m.prior))
    tb = elbo(m, x, beta=0.3, generator=g())
    assert torch.allclose(tb.elbo, t.elbo) and torch.allclose(tb.loss, t.distortion.mean() + 0.3 * t.rate.mean())
    tf = elbo(m, x, free_bits=0.5, generator=g())
    fb = torch.clamp(q.kl_per_dim(m.prior).mean(0), min=0.5).sum()
    assert torch.allclose(tf.loss, t.distortion.mean() + fb) and torch.allclose(tf.elbo, t.elbo)
    assert [beta_at(s, 2.0, 100) for s in (0, 50, 100, 200)] == [0.0, 1.0, 2.0, 2.0]


def test_iwae_k1_equals_the_elbo_and_grows_with_k():
    m = small_model()
    x = (torch.rand(6, 6) < 0.4).double()
    with torch.no_grad():
        for s in range(3):  # the same draw: IWAE with k = 1 is estimator A to the last bit
            a = elbo(m, x, kl="mc", generator=torch.Generator().manual_seed(s)).elbo
            b = iwae_bound(m, x, 1, generator=torch.Generator().manual_seed(s)).elbo
            assert torch.allclose(a, b, atol=1e-12)
        an = torch.stack([elbo(m, x, generator=torch.Generator().manual_seed(s)).elbo for s in range(2000)])
        mc = torch.stack([iwae_bound(m, x, 1, generator=torch.Generator().manual_seed(s)).elbo for s in range(2000)])
        se = (an.var(0) / 2000 + mc.var(0) / 2000).sqrt()
        assert ((an.mean(0) - mc.mean(0)).abs() < 4 * se).all()  # estimators A and B agree in expectation
        means = []
        for k in (1, 5, 50, 500):
            r = torch.stack([iwae_bound(m, x, k, generator=torch.Generator().manual_seed(s)).elbo for s in range(40)])
            means.append((r.mean(), r.std() / math.sqrt(r.numel())))
        for (m1, s1), (m2, s2) in itertools.pairwise(means):
            assert m2 > m1 - 3 * (s1**2 + s2**2) ** 0.5  # non-decreasing in k (Burda et al. 2015, Thm. 1)
        assert means[-1][0] > means[0][0]


def test_chunked_iwae_matches_unchunked_within_error_and_exactly_for_constant_weights():
    m = small_model()
    x = (torch.rand(4, 6) < 0.4).double()
    with torch.no_grad():
        a = torch.stack([iwae_bound(m, x, 1000, generator=torch.Generator().manual_seed(s)).elbo for s in range(8)])
        b = torch.stack([iwae_bound(m, x, 1000, chunk=300, generator=torch.Generator().manual_seed(s)).elbo
                         for s in range(8)])
    se = (a.var(0) / 8 + b.var(0) / 8).sqrt()
    assert ((a.mean(0) - b.mean(0)).abs() < 4 * se + 1e-9).all()


class ExactPosteriorEncoder(nn.Module):
    """PPCA's exact posterior q(z|x) = N(M⁻¹Wᵀ(x−b), σ²M⁻¹), M = WᵀW + σ²I (diagonal for orthogonal W)."""

    def __init__(self, W, b, sigma, mean_shift=0.0, var_scale=1.0):
        super().__init__()
        self.W, self.b, self.sigma = W, b, sigma
        self.Minv = 1.0 / (W.pow(2).sum(0) + sigma**2)  # (d,)
        self.mean_shift, self.var_scale = mean_shift, var_scale

    def forward(self, x):
        mean = (x - self.b) @ self.W * self.Minv + self.mean_shift        # (B, d)
        logvar = torch.log(self.sigma**2 * self.Minv * self.var_scale).expand_as(mean)
        return torch.cat([mean, logvar], -1)


class LinearDecoder(nn.Module):
    def __init__(self, W, b):
        super().__init__()
        self.W, self.b = W, b

    def forward(self, z):
        return z @ self.W.T + self.b


def ppca(mean_shift=0.0, var_scale=1.0):
    g = torch.Generator().manual_seed(0)
    D_, d, sigma = 10, 3, 0.5
    Q, _ = torch.linalg.qr(torch.randn(D_, d, generator=g))
    W = Q * torch.tensor([2.0, 1.0, 0.5])  # orthogonal columns: the exact posterior is diagonal
    b = torch.randn(D_, generator=g)
    enc = ExactPosteriorEncoder(W, b, sigma, mean_shift, var_scale)
    model = VAE(enc, LinearDecoder(W, b), GaussianHead((D_,), "fixed", sigma), d, (D_,)).double()
    exact = D.MultivariateNormal(b, W @ W.T + sigma**2 * torch.eye(D_))
    x = exact.sample((20,), ) if False else b + torch.randn(20, D_, generator=g) @ torch.linalg.cholesky(
        W @ W.T + sigma**2 * torch.eye(D_)).T
    return model, x, exact.log_prob(x)


def test_log_likelihood_is_exact_with_the_exact_posterior():
    model, x, exact = ppca()
    ll = model.log_likelihood(x, k=5000, generator=torch.Generator().manual_seed(0))
    assert (ll - exact).abs().max() < 0.5
    assert (ll - exact).abs().max() < 1e-8  # log w is constant when q is the true posterior
    t = elbo(model, x, kl="mc", generator=torch.Generator().manual_seed(0))
    assert (t.elbo - exact).abs().max() < 1e-8  # estimator A is exact per draw: KL(q || p(z|x)) = 0


def test_log_likelihood_is_below_exact_with_a_wrong_posterior():
    for shift, scale in ((0.7, 1.0), (0.0, 3.0), (0.0, 0.3)):
        model, x, exact = ppca(shift, scale)
        with torch.no_grad():
            ll = model.log_likelihood(x, k=5000, chunk=1000, generator=torch.Generator().manual_seed(0))
            e = elbo(model, x, samples=4000, generator=torch.Generator().manual_seed(1)).elbo[None]
        # A lower bound in expectation: the mean over 20 points is below the exact one (inflated q: only by
        # a hair, ~0.005 nats, so allow 0.02 of Monte-Carlo noise), well below for the other two.
        assert ll.mean() < exact.mean() + 0.02
        if scale != 3.0:
            assert ll.mean() < exact.mean() - 0.01
        assert (e.mean(0) < exact).all()  # the ELBO is below log p(x) by KL(q || p(z|x)) > 0
        assert (exact - ll).mean() < (exact - e.mean(0)).mean()  # k = 5000 is closer than k = 1
        # ELBO = log p(x) − KL(q || exact posterior), in closed form (both Gaussian):
        exact_post = ppca()[0].posterior(x)
        gap = model.posterior(x).kl(exact_post)
        assert torch.allclose(e.mean(0), exact - gap, atol=0.25)  # gaps 0.3-6 nats; MC error of 4000 draws <= 0.1
