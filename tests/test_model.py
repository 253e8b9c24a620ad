"""model.log_likelihood: the k samples go through the decoder in passes of bounded memory, and the
estimate does not depend on how they are cut. A learned Gaussian p(x|z) has a floor under its log-scale."""

from __future__ import annotations

import math

import pytest
import torch

import vaekit.objectives as objectives
from vaekit.config import ModelConfig
from vaekit.model import build_model


def record_passes(monkeypatch) -> list[tuple[int, int]]:
    """Replace log_weights by a stub that records (samples, batch) of each pass and returns zeros."""
    passes = []

    def stub(model, x, k, generator=None, context=None, y=None):
        passes.append((k, len(x)))
        zero = torch.zeros(k, len(x), dtype=x.dtype)
        return zero, zero, zero

    monkeypatch.setattr(objectives, "log_weights", stub)
    return passes


def test_log_likelihood_at_k_5000_keeps_each_pass_under_the_byte_bound(monkeypatch):
    from vaekit.objectives import MAX_PASS_BYTES

    model = build_model(ModelConfig(), (1, 28, 28))  # the reference MNIST model: 784 Bernoulli logits, z of 20
    passes = record_passes(monkeypatch)
    ll = model.log_likelihood(torch.zeros(100, 1, 28, 28), k=5000)
    row = (784 * 1 + 20) * 4  # bytes of one (sample, image) row: float32 logits and latent
    assert sum(n for n, _ in passes) == 5000 and len(passes) > 1
    assert max(n * b for n, b in passes) * row <= MAX_PASS_BYTES  # one pass of 5000 x 100 rows: 1.5 GiB
    assert torch.equal(ll, torch.zeros(100))  # log of the mean of k weights exp(0)


def test_a_bigger_decoder_takes_fewer_samples_per_pass():
    from vaekit.objectives import MAX_PASS_BYTES, bytes_per_row, samples_per_pass

    small = build_model(ModelConfig(), (1, 28, 28))
    big = build_model(ModelConfig(arch="conv", likelihood="logistic_mixture", n_mix=5), (3, 32, 32))
    assert bytes_per_row(small) == (784 + 20) * 4
    assert bytes_per_row(big) == (3 * 32 * 32 * 15 + 20) * 4  # 3 logistic parameters x 5 components a sub-pixel
    s, b = samples_per_pass(small, 100, 5000), samples_per_pass(big, 100, 5000)
    assert b < s
    assert s == 100 and 5000 % s == 0  # 10k rows of the reference model: one pass shape, one compiled graph
    assert b * 100 * bytes_per_row(big) <= MAX_PASS_BYTES or b == 1
    assert samples_per_pass(small, 100, 7) == 7  # never more than k


def test_chunked_log_likelihood_equals_the_one_pass_estimate(monkeypatch):
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[32], latent_dim=4), (1, 6, 6))
    x = (torch.rand(8, 1, 6, 6) < 0.4).float()
    one_pass = model.log_likelihood(x, k=600, chunk=600, generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(objectives, "MAX_PASS_BYTES", 8 * 50 * (36 + 4) * 4)  # 50 samples a pass
    passes = []
    weights = objectives.log_weights
    spy = lambda m, x, k, *a, **kw: passes.append(k) or weights(m, x, k, *a, **kw)  # noqa: E731
    monkeypatch.setattr(objectives, "log_weights", spy)
    chunked = model.log_likelihood(x, k=600, generator=torch.Generator().manual_seed(3))
    assert passes == [50] * 12
    assert torch.allclose(chunked, one_pass, atol=1e-5, rtol=0)


def test_learned_gaussian_log_scale_is_floored_so_a_constant_pixel_keeps_log_p_finite():
    from vaekit.distributions import GaussianHead

    floor = -8.0
    head = GaussianHead((1, 2, 2), "per_dim", 1.0, min_log_scale=floor)
    x = torch.tensor([[[[0.3, 0.3], [0.3, 0.3]]]])  # every pixel constant across the data set
    opt = torch.optim.Adam(head.parameters(), lr=0.5)
    for _ in range(200):  # the decoder's mean is exact: the learned variance heads for 0
        opt.zero_grad()
        (-head(x.clone()).log_prob(x).sum()).backward()
        opt.step()
    lp = head(x.clone()).log_prob(x)
    bound = 4 * (-0.5 * math.log(2 * math.pi) - floor)  # 4 pixels, each at most N(0; 0, e^floor) in density
    assert head.log_scale.min() < floor  # the parameter went below the floor ...
    assert torch.isfinite(lp).all() and lp.item() == pytest.approx(bound)  # ... the density stopped at it
    with torch.no_grad():
        head.log_scale.fill_(-1e4)  # forced: exp(1e4) is inf, and 0 * inf would make log p NaN
    assert head(x.clone()).log_prob(x).item() == pytest.approx(bound)
    # below the floor the parameter still gets its gradient: a pixel that stops being constant pulls it back up
    head.zero_grad()
    head(x.clone()).log_prob(x + 0.1).sum().backward()
    assert (head.log_scale.grad > 0).all()


def test_gaussian_floor_comes_from_the_model_config_and_spares_a_fixed_sigma():
    from vaekit.errors import ConfigError

    m = build_model(ModelConfig(likelihood="gaussian", variance="global", min_log_scale=-5.0), (4,))
    assert m.likelihood_head.min_log_scale == -5.0
    fixed = build_model(ModelConfig(likelihood="gaussian", variance="fixed", sigma=1e-4), (4,))
    assert fixed.likelihood_head(torch.zeros(1, 4)).log_scale.item() == pytest.approx(math.log(1e-4))
    with pytest.raises(ConfigError, match="sigma"):
        ModelConfig(likelihood="gaussian", variance="per_dim", sigma=1e-4)  # learned, and starting below the floor
