"""I_q(x; z) (vaekit.information): within [0, log N], exact where the aggregate posterior has a closed form, the
linear-Gaussian value by Monte Carlo, the same for any chunking, and reported by evaluate()."""

from __future__ import annotations

import math

import pytest
import torch

from vaekit.config import ModelConfig
from vaekit.data import TensorData
from vaekit.evaluation import evaluate, validation_information
from vaekit.information import mutual_information
from vaekit.model import build_model


def entropy_noise(n: int, d: int, seed: int) -> float:
    """mean_i 1/2 Σ_d (ε_id² - 1) for the ε the estimator draws from a generator seeded with `seed`: how far
    log q(z_i|x_i) at the one draw lies above its closed-form mean, E_q log q(z|x)."""
    eps = torch.randn((n, d), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return float(0.5 * (eps**2 - 1).sum(-1).mean())


def mi(mean: torch.Tensor, logvar: torch.Tensor, seed: int = 0, chunk: int | None = None) -> float:
    return mutual_information(mean, logvar, torch.Generator().manual_seed(seed), chunk=chunk)


@pytest.mark.parametrize("n", [2, 10, 100, 1000])
def test_the_estimate_lies_between_0_and_log_n(n):
    # The estimate is log N + noise - mean_i log [N q(z_i) / q(z_i|x_i)] <= log N + noise exactly (the j = i
    # term of N q(z_i) is q(z_i|x_i)), noise = entropy_noise; and it is unbiased for I_q in [0, log N]: the
    # mean of 40 seeds lies within 4 standard errors of that interval.
    d, g = 4, torch.Generator().manual_seed(n)
    mean = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.rand(1, d, generator=g, dtype=torch.float64) * 3
    logvar = torch.randn(n, d, generator=g, dtype=torch.float64) - 1.0
    runs = torch.tensor([mi(mean, logvar, seed) for seed in range(40)], dtype=torch.float64)
    for seed, r in enumerate(runs.tolist()):
        assert r <= math.log(n) + entropy_noise(n, d, seed) + 1e-9
    err = 4 * float(runs.std()) / math.sqrt(len(runs))
    assert -err <= float(runs.mean()) <= math.log(n) + err
    assert 0.1 < float(runs.mean()) < math.log(n) - 0.05  # spread but overlapping posteriors: strictly inside


def test_identical_posteriors_carry_no_information():
    # q(z) = q(z|x_j) for every j, so the estimate is the entropy noise alone: |MI| < 0.1 nats for
    # N = 4000, D = 4 (the noise's standard deviation is sqrt(D / 2N) = 0.022), and exactly the noise
    n, d = 4000, 4
    mean = torch.tensor([0.3, -1.0, 2.0, 0.0], dtype=torch.float64).expand(n, d)
    logvar = torch.tensor([0.0, -2.0, 1.0, -0.5], dtype=torch.float64).expand(n, d)
    found = mi(mean, logvar, seed=5)
    assert abs(found) < 0.1
    assert found == pytest.approx(entropy_noise(n, d, 5), abs=1e-10)


@pytest.mark.parametrize(("clusters", "n"), [(2, 1000), (8, 400), (300, 300)])
def test_far_apart_point_like_clusters_give_log_of_their_count(clusters, n):
    # n items in `clusters` equal groups of one posterior each, the groups 100 apart, variances 5e-5: q(z_i) is
    # q(z_i|x_i) / clusters up to exp(-1e8), so MI = log(clusters) + entropy noise, to rounding; 300 distinct
    # posteriors (clusters = n) give log N
    d = 3
    centres = 100.0 * torch.randn(clusters, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    centres = centres + 100.0 * torch.arange(clusters, dtype=torch.float64)[:, None]  # no two closer than 100
    mean = centres.repeat_interleave(n // clusters, 0)  # (n, d)
    logvar = torch.full_like(mean, -10.0)
    found = mi(mean, logvar, seed=2)
    assert found == pytest.approx(math.log(clusters) + entropy_noise(n, d, 2), abs=1e-6)
    assert abs(found - math.log(clusters)) < 0.25


@pytest.mark.parametrize(("a", "s2", "v", "d"), [(1.0, 1.0, 0.1, 1), (1.0, 1.0, 1.0, 2)])
def test_linear_gaussian_mutual_information(a, s2, v, d):
    # x ~ N(0, s² I_d), q(z|x) = N(a x, v I): I(x; z) = d/2 log(1 + a² s² / v). From N = 4000 items the
    # estimate is within 0.04 nats (measured over 10 seeds: |error| <= 0.011 and 0.023, std 0.007 and 0.014)
    g = torch.Generator().manual_seed(11)
    x = math.sqrt(s2) * torch.randn(4000, d, generator=g, dtype=torch.float64)
    exact = 0.5 * d * math.log(1 + a * a * s2 / v)
    assert mutual_information(a * x, torch.full_like(x, math.log(v)), g) == pytest.approx(exact, abs=0.04)


def test_chunks_give_the_one_chunk_result():
    g = torch.Generator().manual_seed(3)
    mean = torch.randn(257, 5, generator=g, dtype=torch.float64)
    logvar = torch.randn(257, 5, generator=g, dtype=torch.float64)
    whole = mi(mean, logvar, seed=4, chunk=257)
    for chunk in (1, 7, 100, None):
        assert mi(mean, logvar, seed=4, chunk=chunk) == pytest.approx(whole, abs=1e-10)
    assert mi(mean, logvar, seed=5) != whole  # the draw follows the generator


def test_the_expanded_square_matches_the_direct_differences():
    # an independent reference: log q(z_i|x_j) from the differences z_i - mean_j, for the same draws
    g = torch.Generator().manual_seed(8)
    mean = 3 * torch.randn(300, 6, generator=g, dtype=torch.float64) + 20.0
    logvar = 2 * torch.randn(300, 6, generator=g, dtype=torch.float64) - 3.0
    eps = torch.randn((300, 6), generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    z = mean + torch.exp(0.5 * logvar) * eps
    log_q = torch.distributions.Normal(mean[None], torch.exp(0.5 * logvar[None])).log_prob(z[:, None]).sum(-1)
    neg_entropy = -torch.distributions.Normal(mean, torch.exp(0.5 * logvar)).entropy().sum(-1).mean()
    reference = float(neg_entropy - (torch.logsumexp(log_q, 1).mean() - math.log(300)))
    assert mi(mean, logvar, seed=9) == pytest.approx(reference, abs=1e-9)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="mean and logvar"):
        mutual_information(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="empty"):
        mutual_information(torch.zeros(0, 2), torch.zeros(0, 2))


def test_evaluate_reports_the_mutual_information_of_the_encoder():
    # an untrained MLP VAE on 60 random 5x5 images: its posteriors differ a little from item to item, so the
    # information lies strictly inside [0, log 60]; one seed gives one figure, another a different one
    torch.manual_seed(0)
    model = build_model(ModelConfig(hidden=[16], latent_dim=3), (1, 5, 5))
    data = TensorData(torch.rand(60, 1, 5, 5), binarize="dynamic")
    a = evaluate(model, data, k=4, seed=1, progress=False, compile=False)
    b = evaluate(model, data, k=4, seed=1, progress=False, compile=False)
    c = evaluate(model, data, k=4, seed=2, progress=False, compile=False)
    assert a["mutual_information"] == b["mutual_information"] != c["mutual_information"]
    assert 0.0 < a["mutual_information"] < math.log(60)
    with torch.no_grad():  # the figure is that of the encoder's posteriors over the evaluated (binarized) items
        from vaekit.data import fixed_binarization
        from vaekit.evaluation import sampling_seed

        q = model.posterior(fixed_binarization(data, 1).x)
    expected = mutual_information(q.mean, q.logvar, torch.Generator().manual_seed(sampling_seed(1, child=2)))
    assert a["mutual_information"] == pytest.approx(expected, abs=1e-6)
    assert validation_information(model, data, seed=1) == pytest.approx(a["mutual_information"], abs=1e-6)
