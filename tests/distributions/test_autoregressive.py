"""The autoregressive Bernoulli likelihood: normalised over every binary image, sampled from the right
distribution, reading only its context, and the factorised Bernoulli when W = 0."""

from __future__ import annotations

import itertools

import pytest
import torch

import vaekit
from tests.conftest import tiny_config
from vaekit.config import ModelConfig
from vaekit.distributions import AutoregressiveBernoulliHead, BernoulliLogits
from vaekit.errors import ConfigError

SHAPE = (1, 2, 3)  # D = 6: all 64 binary images can be listed


def head_with_weights(context: int) -> AutoregressiveBernoulliHead:
    head = AutoregressiveBernoulliHead(SHAPE, context)
    with torch.no_grad():
        head.weight.copy_(2 * torch.randn(6, 6, generator=torch.Generator().manual_seed(0)))
    return head


def all_images() -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=6))).view(64, 1, 1, *SHAPE)  # (64, 1, 1, *event)


@pytest.mark.parametrize("context", [1, 3, 6])
def test_probabilities_of_all_binary_images_sum_to_one(context):
    logits = torch.randn(2, 4, *SHAPE, generator=torch.Generator().manual_seed(1))  # (S, B, *event)
    with torch.no_grad():
        lp = head_with_weights(context)(logits).log_prob(all_images())  # (64, S, B)
    assert lp.shape == (64, 2, 4)
    torch.testing.assert_close(lp.logsumexp(0), torch.zeros(2, 4), atol=1e-5, rtol=0)


def test_samples_follow_the_exact_marginals():
    head, logits = head_with_weights(3), torch.randn(*SHAPE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        p = head(logits).log_prob(all_images().view(64, *SHAPE)).exp()  # (64,)
    exact = (p[:, None] * all_images().view(64, 6)).sum(0)  # P(x_i = 1), by enumeration
    samples = head(logits.expand(100_000, *SHAPE)).sample(torch.Generator().manual_seed(3))
    assert set(samples.unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(samples.view(-1, 6).mean(0), exact, atol=0.01, rtol=0)  # 4 sd of 1e5 draws is 0.006


def test_a_pixel_reads_only_its_context():
    # pixel 4's logit depends on x_j for j in [4 - 2, 4) only, with a context of 2
    head, x = head_with_weights(2), torch.zeros(6, requires_grad=True)
    (grad,) = torch.autograd.grad(head.context_logits(x.view(SHAPE))[4], x)
    assert grad.nonzero().flatten().tolist() == [2, 3]


def test_zero_weights_give_the_factorised_bernoulli_and_both_paths_agree():
    head = AutoregressiveBernoulliHead(SHAPE, 6)
    logits = torch.randn(3, 5, *SHAPE, requires_grad=True)
    x = torch.bernoulli(torch.full((5, *SHAPE), 0.5))
    torch.testing.assert_close(head(logits).log_prob(x), BernoulliLogits(logits, 3).log_prob(x))
    torch.testing.assert_close(head(logits.detach()).mean, torch.sigmoid(logits.detach()))
    trained = head_with_weights(4)  # the grouped no-grad path (evaluation) equals the fused BCE (training)
    with torch.no_grad():
        fast = trained(logits).log_prob(x)
    torch.testing.assert_close(trained(logits).log_prob(x), fast, atol=1e-4, rtol=0)


def test_autoregressive_model_trains_and_round_trips(tmp_path):
    cfg = tiny_config(epochs=3)
    cfg.model = ModelConfig(hidden=[64], latent_dim=4, likelihood="bernoulli_ar", ar_context=20)
    run = vaekit.train(cfg, out=tmp_path / "run")
    curve = [r["val_elbo"] for r in run.metrics if r["kind"] in ("init", "epoch")]
    assert curve[-1] > curve[0] + 5.0
    assert run.model.likelihood_head.weight.abs().sum() > 0  # the context weights learned something
    loaded = vaekit.load(run.dir)
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(loaded.sample(3, g()), run.model.sample(3, g()))
    x = torch.rand(4, 1, 16, 16)
    assert torch.equal(loaded.log_likelihood(x, k=10, generator=g()), run.model.log_likelihood(x, k=10, generator=g()))


def test_data_too_large_for_the_dense_weight_is_refused():
    with pytest.raises(ConfigError, match=r"bernoulli_ar .*\(3, 64, 64\)"):
        AutoregressiveBernoulliHead((3, 64, 64), 112)
