"""Learnable priors: densities integrate to 1, log_prob against independent references, sample
moments within standard errors, gradients, and the VampPrior's bind / deepcopy behaviour."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from vaekit.distributions.gaussian import DiagonalGaussian
from vaekit.distributions.priors import MixtureOfGaussiansPrior, VampPrior, gaussian_mixture_log_prob


def random_mog(dim: int, k: int, seed: int = 0) -> MixtureOfGaussiansPrior:
    g = torch.Generator().manual_seed(seed)
    prior = MixtureOfGaussiansPrior(dim, k, init_scale=2.0, generator=g)
    with torch.no_grad():
        prior.logvars.copy_(torch.rand((k, dim), generator=g) * 2 - 1)  # σ in [0.6, 1.65]
        prior.logits.copy_(torch.randn(k, generator=g))
    return prior.double()


class LinearEncoder(nn.Module):
    """A trivial 'VAE': q(z|x) = N(W x + b, exp(V x + c)) on flattened x, so components are known."""

    def __init__(self, in_dim: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():  # seeded init without touching the global stream
            torch.manual_seed(seed)
            self.mu = nn.Linear(in_dim, dim)
            self.lv = nn.Linear(in_dim, dim)
        with torch.no_grad():
            self.lv.weight.mul_(0.3)

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        x = x.flatten(1)  # (K, prod(event))
        return DiagonalGaussian(self.mu(x), self.lv(x))


class Holder(LinearEncoder):
    """A parent module carrying its VampPrior (as the VAE will)."""

    def __init__(self, dim: int, k: int, event_shape: tuple[int, ...]) -> None:
        super().__init__(math.prod(event_shape), dim)
        self.prior = VampPrior(dim, k, event_shape, generator=torch.Generator().manual_seed(1)).bind(self.posterior)


def vamp(dim: int, k: int, event_shape: tuple[int, ...] = (3,)) -> Holder:
    return Holder(dim, k, event_shape).double()


def grid_integral(log_prob, dim: int) -> float:
    """Trapezoid rule of exp(log_prob) over [-15, 15]^dim (D=1: 30001 points, D=2: 601^2)."""
    n = 30001 if dim == 1 else 601
    t = torch.linspace(-15, 15, n, dtype=torch.float64)
    w = torch.full((n,), t[1] - t[0], dtype=torch.float64)
    w[0] = w[-1] = w[0] / 2
    if dim == 1:
        return float((log_prob(t[:, None]).exp() * w).sum())
    z = torch.stack(torch.meshgrid(t, t, indexing="ij"), dim=-1)  # (n, n, 2)
    return float((log_prob(z).exp() * w[:, None] * w[None, :]).sum())


@pytest.mark.parametrize("dim", [1, 2])
def test_mog_integrates_to_one(dim: int) -> None:
    prior = random_mog(dim, 4)
    with torch.no_grad():
        assert grid_integral(prior.log_prob, dim) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("dim", [1, 2])
def test_vamp_integrates_to_one(dim: int) -> None:
    holder = vamp(dim, 5)
    with torch.no_grad():
        assert grid_integral(holder.prior.log_prob, dim) == pytest.approx(1.0, abs=1e-6)


def test_mog_matches_mixture_same_family() -> None:
    prior = random_mog(3, 5)
    z = torch.randn(4, 6, 3, dtype=torch.float64) * 3  # (S, B, D)
    ref = MixtureSameFamily(Categorical(logits=prior.logits),
                            Independent(Normal(prior.means, torch.exp(0.5 * prior.logvars)), 1))
    torch.testing.assert_close(prior.log_prob(z), ref.log_prob(z), rtol=1e-12, atol=1e-12)
    far = torch.full((1, 3), 40.0, dtype=torch.float64)  # deep tail: logsumexp must not underflow
    assert torch.isfinite(prior.log_prob(far)).all()
    torch.testing.assert_close(prior.log_prob(far), ref.log_prob(far))


def test_vamp_matches_hand_computed_mixture() -> None:
    holder = vamp(2, 4, (3,))
    z = torch.randn(5, 7, 2, dtype=torch.float64)  # (S, B, D)
    u = holder.prior.pseudo_inputs.detach().numpy()  # (K, 3)
    mu = u @ holder.mu.weight.detach().numpy().T + holder.mu.bias.detach().numpy()  # (K, D)
    lv = u @ holder.lv.weight.detach().numpy().T + holder.lv.bias.detach().numpy()  # (K, D)
    zn = z.numpy()[..., None, :]  # (S, B, 1, D)
    log_nk = (-0.5 * (np.log(2 * np.pi) + lv + (zn - mu) ** 2 / np.exp(lv))).sum(-1)  # (S, B, K)
    top = log_nk.max(-1, keepdims=True)
    ref = np.log(np.exp(log_nk - top).mean(-1)) + top[..., 0]
    np.testing.assert_allclose(holder.prior.log_prob(z).detach().numpy(), ref, rtol=1e-12, atol=1e-12)


def test_chunked_equals_unchunked_with_gradients() -> None:
    g = torch.Generator().manual_seed(3)
    means = torch.randn((6, 3), generator=g, dtype=torch.float64, requires_grad=True)
    logvars = torch.randn((6, 3), generator=g, dtype=torch.float64, requires_grad=True)
    log_w = torch.randn(6, generator=g, dtype=torch.float64).log_softmax(0)
    z = torch.randn((5, 11, 3), generator=g, dtype=torch.float64, requires_grad=True)
    full = gaussian_mixture_log_prob(z, means, logvars, log_w)
    grads_full = torch.autograd.grad(full.sum(), (z, means, logvars))
    chunked = gaussian_mixture_log_prob(z, means, logvars, log_w, max_elements=40)  # 2 rows per chunk
    grads_chunked = torch.autograd.grad(chunked.sum(), (z, means, logvars))
    torch.testing.assert_close(chunked, full)
    for a, b in zip(grads_chunked, grads_full, strict=True):
        torch.testing.assert_close(a, b)


def test_no_grad_matmul_path_equals_broadcast() -> None:
    """Evaluation (no gradients) expands the square in float64; it must match the exact broadcast form,
    also for a narrow component far out (σ = 0.02, μ ~ 10: terms ~1e7 that cancel to ~10) and across chunks."""
    from vaekit.distributions.priors import _mixture_chunk

    g = torch.Generator().manual_seed(4)
    means = torch.cat([torch.randn((6, 32), generator=g) * 2, 10 + torch.randn((1, 32), generator=g)])
    logvars = torch.cat([torch.randn((6, 32), generator=g) * 0.5, torch.full((1, 32), 2 * math.log(0.02))])
    log_w = torch.randn(7, generator=g).log_softmax(0)
    z = torch.cat([torch.randn((5, 9, 32), generator=g) * 2, means[-1].expand(1, 9, 32) + 0.01])  # (6, 9, 32)
    ref = _mixture_chunk(z.reshape(-1, 32).double(), means.double(), torch.exp(-logvars.double()),
                         (log_w - 0.5 * (32 * math.log(2 * math.pi) + logvars.sum(-1))).double())
    with torch.no_grad():
        for max_elements in (2**22, 14 * 5):  # one chunk; 5 rows per chunk
            got = gaussian_mixture_log_prob(z, means, logvars, log_w, max_elements=max_elements)
            assert got.shape == (6, 9) and got.dtype == torch.float32
            torch.testing.assert_close(got.double(), ref.view(6, 9).float().double(), rtol=1e-6, atol=1e-4)
    grad_path = gaussian_mixture_log_prob(z, means.requires_grad_(), logvars, log_w)  # the broadcast form
    torch.testing.assert_close(grad_path.detach().double(), ref.view(6, 9), rtol=1e-5, atol=1e-3)


def check_moments(draws: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor) -> None:
    """Sample mean and variance of (n, D) draws against the mixture's, within 5 standard errors."""
    n = draws.shape[0]
    mix_mean = (weights[:, None] * means).sum(0)  # (D,)
    mix_var = (weights[:, None] * (variances + means**2)).sum(0) - mix_mean**2  # (D,)
    centred = draws - draws.mean(0)
    se_mean = (mix_var / n).sqrt()
    se_var = (((centred**4).mean(0) - mix_var**2) / n).sqrt()
    assert ((draws.mean(0) - mix_mean).abs() < 5 * se_mean).all()
    assert ((centred.pow(2).mean(0) - mix_var).abs() < 5 * se_var).all()


def test_mog_sample_moments() -> None:
    prior = random_mog(2, 3)
    draws = prior.sample(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert draws.shape == (200_000, 2) and not draws.requires_grad
    check_moments(draws, prior.logits.softmax(0).detach(), prior.means.detach(), prior.logvars.exp().detach())


def test_vamp_sample_moments() -> None:
    holder = vamp(2, 4)
    draws = holder.prior.sample(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q = holder.posterior(holder.prior.pseudo_inputs)
    check_moments(draws, torch.full((4,), 0.25, dtype=torch.float64), q.mean.detach(), q.logvar.exp().detach())


def test_gradients_reach_mog_parameters() -> None:
    prior = random_mog(3, 4)
    prior.log_prob(torch.randn(2, 5, 3, dtype=torch.float64)).sum().backward()
    for name, p in prior.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradients_reach_pseudo_inputs_and_encoder() -> None:
    holder = vamp(2, 4, (3,))
    holder.prior.log_prob(torch.randn(2, 5, 2, dtype=torch.float64)).sum().backward()
    for name, p in holder.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    # the encoder is not registered inside the prior: its parameters appear once, at the parent
    assert [n for n, _ in holder.named_parameters()] == ["mu.weight", "mu.bias", "lv.weight", "lv.bias",
                                                         "prior.pseudo_raw"]
    assert list(holder.prior.state_dict()) == ["pseudo_raw"]


def test_unbound_vamp_raises() -> None:
    prior = VampPrior(2, 3, (4,))
    with pytest.raises(RuntimeError, match="bind"):
        prior.log_prob(torch.randn(5, 2))
    with pytest.raises(RuntimeError, match="bind"):
        prior.sample(3)


def test_deepcopy_rebinds_to_the_copy() -> None:
    holder = vamp(2, 3)
    clone = copy.deepcopy(holder)
    assert clone.prior._posterior_fn.__self__ is clone
    with torch.no_grad():
        clone.mu.bias.add_(1.0)  # changing the copy's encoder moves only the copy's prior
    z = torch.randn(4, 2, dtype=torch.float64)
    assert not torch.allclose(clone.prior.log_prob(z), holder.prior.log_prob(z))
    fresh = vamp(2, 3)
    fresh.load_state_dict(clone.state_dict())
    torch.testing.assert_close(fresh.prior.log_prob(z), clone.prior.log_prob(z))


def test_pseudo_input_init_and_range() -> None:
    data = torch.rand(3, 1, 4, 4)
    data[0] = 0.0  # black pixels: still inside the range after the noise, with live gradients
    prior = VampPrior(2, 5, (1, 4, 4), init=data, noise_std=0.01, generator=torch.Generator().manual_seed(0))
    u = prior.pseudo_inputs.detach()  # (5, 1, 4, 4); items 0, 1, 2, 0, 1
    assert u.shape == (5, 1, 4, 4) and (u > 0).all() and (u < 1).all()
    expected = data[[0, 1, 2, 0, 1]].clamp(1e-3, 1 - 1e-3)
    assert (u - expected).abs().max() < 0.06  # 5 sd of the noise
    uniform = VampPrior(2, 50, (6,), data_range=(-1.0, 1.0)).pseudo_inputs.detach()
    assert uniform.min() >= -1 and uniform.max() <= 1 and uniform.std() > 0.4
    raw = VampPrior(2, 3, (6,), init=torch.full((3, 6), 5.0), data_range=None, noise_std=0.0).pseudo_inputs
    torch.testing.assert_close(raw.detach(), torch.full((3, 6), 5.0))
