"""Discretized logistic likelihoods: probabilities over the 256 levels sum to 1, log_prob against a
float64 numpy computation of CDF differences, concentration, sampling, gradients, heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaekit.distributions.logistic import (
    DiscretizedLogistic,
    DiscretizedLogisticHead,
    DiscretizedLogisticMixture,
    LogisticMixtureHead,
)

GRID = torch.arange(256, dtype=torch.float32) / 255  # the 256 levels in [0, 1]


def random_params(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n (mean, log_scale) pairs: random ones plus extremes (far outside [0, 1], at the edges,
    on a bin boundary, the -7 floor and very broad scales)."""
    g = torch.Generator().manual_seed(seed)
    mean = torch.rand(n, generator=g) * 1.6 - 0.3
    log_scale = torch.rand(n, generator=g) * 13 - 7  # [-7, 6]
    extreme_mean = torch.tensor([-50.0, 50.0, 0.0, 1.0, 0.5 / 255, 127.5 / 255, 0.5, 0.5, -3.0, 4.0])
    extreme_ls = torch.tensor([-7.0, -7.0, -7.0, -7.0, -7.0, -9.0, 8.0, -12.0, 6.0, -1.0])
    return torch.cat([mean, extreme_mean]), torch.cat([log_scale, extreme_ls])


def np_log_prob(x: np.ndarray, mean: np.ndarray, log_scale: np.ndarray) -> np.ndarray:
    """Reference in float64: log of a CDF difference, each bin from the side where it is accurate."""
    def sig(t: np.ndarray) -> np.ndarray:
        return np.exp(-np.logaddexp(0.0, -t))

    s = np.exp(log_scale)
    a, b = (x - 0.5 / 255 - mean) / s, (x + 0.5 / 255 - mean) / s
    interior = np.where(a >= 0, sig(-a) - sig(-b), np.where(b <= 0, sig(b) - sig(a), 1 - sig(-b) - sig(a)))
    with np.errstate(divide="ignore"):
        return np.log(np.where(x < 0.5 / 255, sig(b), np.where(x > 1 - 0.5 / 255, sig(-a), interior)))


def test_single_sums_to_one() -> None:
    mean, log_scale = random_params(200)
    lp = DiscretizedLogistic(mean, log_scale, event_dims=0).log_prob(GRID[:, None])  # (256, P)
    assert torch.isfinite(lp).all()
    torch.testing.assert_close(lp.exp().sum(0), torch.ones(len(mean)), rtol=0, atol=1e-4)


def test_mixture_sums_to_one() -> None:
    mean, log_scale = random_params(200)
    g = torch.Generator().manual_seed(1)
    means = mean.view(-1, 5)  # (P, M = 5)
    log_scales = log_scale[torch.randperm(len(mean), generator=g)].view(-1, 5)
    logits = torch.randn(means.shape, generator=g) * 3
    lp = DiscretizedLogisticMixture(logits, means, log_scales, event_dims=0).log_prob(GRID[:, None])  # (256, P)
    assert torch.isfinite(lp).all()
    torch.testing.assert_close(lp.exp().sum(0), torch.ones(means.shape[0]), rtol=0, atol=1e-4)


def test_single_matches_float64_reference() -> None:
    mean, log_scale = random_params(300, seed=2)
    lp = DiscretizedLogistic(mean, log_scale, event_dims=0).log_prob(GRID[:, None]).numpy()  # (256, P)
    ref = np_log_prob(GRID.double().numpy()[:, None], mean.double().numpy(), log_scale.double().numpy())
    # beyond -500 the float64 reference underflows (float32 log_prob stays finite). Below the heads'
    # -7 floor, float32's rounding of a bin edge (~3e-8) is no longer small against s (e^-12 = 6e-6:
    # a mean on a bin boundary moves ~1e-3 of mass), so those columns are left to the sum-to-1 test.
    ok = (ref > -500) & (log_scale.numpy() >= -7.0)
    assert ok.mean() > 0.9
    # absolute error in log p: float32 rounding of (x - μ)/s; relative where the value is large
    np.testing.assert_allclose(lp[ok], ref[ok], rtol=1e-5, atol=1e-4)


def test_mixture_matches_float64_reference() -> None:
    g = torch.Generator().manual_seed(3)
    means, log_scales = torch.rand((8, 3), generator=g), torch.rand((8, 3), generator=g) * 6 - 7
    logits = torch.randn((8, 3), generator=g)
    x = GRID[torch.randint(256, (8,), generator=g)]  # (P,)
    lp = DiscretizedLogisticMixture(logits, means, log_scales, event_dims=0).log_prob(x).numpy()
    comp = np_log_prob(x.double().numpy()[:, None], means.double().numpy(), log_scales.double().numpy())
    log_w = logits.double().log_softmax(-1).numpy()
    ref = np.log(np.exp(comp + log_w).sum(-1))
    np.testing.assert_allclose(lp, ref, rtol=1e-5, atol=1e-5)


def test_event_dims_sum_and_broadcast() -> None:
    g = torch.Generator().manual_seed(4)
    mean, log_scale = torch.rand((2, 3, 3, 4, 4), generator=g), torch.full((2, 3, 3, 4, 4), -3.0)  # (S, B, C, H, W)
    x = GRID[torch.randint(256, (3, 3, 4, 4), generator=g)]  # (B, C, H, W)
    d = DiscretizedLogistic(mean, log_scale, event_dims=3)
    per_elem = DiscretizedLogistic(mean, log_scale, event_dims=0).log_prob(x)
    torch.testing.assert_close(d.log_prob(x), per_elem.sum((-3, -2, -1)))
    assert d.log_prob(x).shape == (2, 3)


def test_tiny_scale_puts_mass_in_the_bin_of_the_mean() -> None:
    v = torch.arange(256)
    lp = DiscretizedLogistic(v / 255, torch.full((256,), -9.0), event_dims=0).log_prob(v / 255)
    assert (lp.exp() > 1 - 1e-6).all()
    # and the mean is that level; off-grid means snap to the nearest level
    d = DiscretizedLogistic(torch.tensor([0.31, 100.0 / 255 + 0.4 / 255]), torch.tensor([-12.0, -12.0]), 0)
    torch.testing.assert_close(d.mean, torch.tensor([79 / 255, 100 / 255]))


def check_samples(draws: torch.Tensor, expected_mean: torch.Tensor) -> None:
    """draws (n, P): on the grid, in [0, 1], mean within 5 standard errors."""
    assert draws.min() >= 0 and draws.max() <= 1
    levels = draws * 255
    torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-4)
    se = draws.std(0) / draws.shape[0] ** 0.5
    assert ((draws.mean(0) - expected_mean).abs() <= 5 * se + 1e-6).all()


def test_single_samples() -> None:
    mean = torch.tensor([0.02, 0.5, 0.97, -0.2, 0.3, 0.7])
    log_scale = torch.tensor([-2.5, -1.0, -3.0, -1.5, -7.0, 1.0])
    d = DiscretizedLogistic(mean.expand(100_000, 6), log_scale.expand(100_000, 6), event_dims=1)
    draws = d.sample(torch.Generator().manual_seed(0))  # (n, 6)
    check_samples(draws, DiscretizedLogistic(mean, log_scale, 1).mean)


def test_mixture_samples() -> None:
    logits = torch.tensor([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]])  # (P, M)
    means = torch.tensor([[0.1, 0.5, 0.9], [0.0, 0.95, 0.3]])
    log_scales = torch.tensor([[-3.0, -2.0, -4.0], [-1.0, -5.0, -2.0]])
    n = 100_000
    d = DiscretizedLogisticMixture(logits.expand(n, 2, 3), means.expand(n, 2, 3), log_scales.expand(n, 2, 3), 0)
    draws = d.sample(torch.Generator().manual_seed(0))  # (n, P)
    check_samples(draws, DiscretizedLogisticMixture(logits, means, log_scales, 0).mean)


def test_gradients_finite_at_extremes() -> None:
    mean, log_scale = random_params(50)
    mean.requires_grad_(True)
    log_scale.requires_grad_(True)
    DiscretizedLogistic(mean, log_scale, 0).log_prob(GRID[:, None]).sum().backward()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(log_scale.grad).all()
    logits = torch.randn(60, 3).mul(20).requires_grad_(True)
    means = mean.detach()[:60].repeat(3).view(60, 3).requires_grad_(True)
    log_scales = log_scale.detach()[:60].repeat(3).view(60, 3).requires_grad_(True)
    DiscretizedLogisticMixture(logits, means, log_scales, 0).log_prob(GRID[:, None]).sum().backward()
    for t in (logits, means, log_scales):
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("event_shape", [(3, 5, 4), (7,)])
def test_single_head_shapes_and_round_trip(event_shape: tuple[int, ...]) -> None:
    head = DiscretizedLogisticHead(event_shape)
    c, rest = event_shape[0], event_shape[1:]
    h = torch.randn(2, 4, 2 * c, *rest)  # (S, B, 2C, *rest) as VAE.likelihood passes it
    h.narrow(2, c, c).fill_(-20.0)  # log-scales below the floor are clamped
    d = head(h)
    assert d.loc.shape == (2, 4, *event_shape) and d.mean.shape == (2, 4, *event_shape)
    torch.testing.assert_close(d.loc, h[:, :, :c])
    torch.testing.assert_close(d.log_scale, torch.full_like(d.loc, -7.0))
    x = GRID[torch.randint(256, (4, *event_shape))]
    assert d.log_prob(x).shape == (2, 4) and torch.isfinite(d.log_prob(x)).all()
    target = torch.rand(event_shape)
    params = head.params_for_mean(target)
    assert params.shape == (2 * c, *rest)
    torch.testing.assert_close(head(params.unsqueeze(0)).mean[0], target.clamp(1e-3, 1 - 1e-3), rtol=0, atol=1e-5)


@pytest.mark.parametrize("event_shape", [(3, 5, 4), (7,)])
def test_mixture_head_shapes_and_round_trip(event_shape: tuple[int, ...]) -> None:
    head = LogisticMixtureHead(event_shape, n_mix=4)
    assert head.params_per_dim == 12
    c, rest = event_shape[0], event_shape[1:]
    h = torch.randn(2, 4, 12 * c, *rest)  # (S, B, 3·M·C, *rest)
    d = head(h)
    blocks = h.unflatten(2, (3, 4, c))  # (S, B, 3, M, C, *rest): the documented layout
    torch.testing.assert_close(d.logit_probs, blocks[:, :, 0])
    torch.testing.assert_close(d.locs, blocks[:, :, 1])
    torch.testing.assert_close(d.log_scales, blocks[:, :, 2].clamp(min=-7.0))
    x = GRID[torch.randint(256, (4, *event_shape))]
    assert d.log_prob(x).shape == (2, 4) and d.mean.shape == (2, 4, *event_shape)
    assert d.sample().shape == (2, 4, *event_shape)
    target = torch.rand(event_shape)
    target.view(-1)[0] = 0.0  # an always-black pixel: clamped to 1e-3
    params = head.params_for_mean(target)
    assert params.shape == (12 * c, *rest)
    torch.testing.assert_close(head(params).mean, target.clamp(1e-3, 1 - 1e-3), rtol=0, atol=1e-5)
