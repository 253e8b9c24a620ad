"""The new priors and heads inside vaekit's VAE, as the lead will wire them: the ELBO (estimator A
for a non-factorising prior), the IWAE bound, gradients to every parameter, sampling, the output
bias init and deepcopy of a VAE carrying a VampPrior."""

from __future__ import annotations

import copy

import pytest
import torch

from vaekit.distributions.logistic import DiscretizedLogisticHead, LogisticMixtureHead
from vaekit.distributions.priors import MixtureOfGaussiansPrior, VampPrior
from vaekit.model import VAE
from vaekit.nets import ConvDecoder, ConvEncoder
from vaekit.objectives import elbo, iwae_bound

SHAPE = (3, 8, 8)


def build(head_name: str, prior_name: str) -> VAE:
    with torch.random.fork_rng():  # seeded init without touching the global stream
        torch.manual_seed(0)
        return _build(head_name, prior_name)


def _build(head_name: str, prior_name: str) -> VAE:
    head = DiscretizedLogisticHead(SHAPE) if head_name == "logistic" else LogisticMixtureHead(SHAPE, n_mix=3)
    enc = ConvEncoder(SHAPE, 8, 32, 2 * 4, "relu")
    dec = ConvDecoder(4, 8, 32, SHAPE, "relu", params_per_dim=head.params_per_dim)
    vae = VAE(enc, dec, head, 4, SHAPE)
    data = torch.randint(0, 256, (10, *SHAPE)) / 255
    if prior_name == "mog":
        vae.prior = MixtureOfGaussiansPrior(4, 5)
    else:
        vae.prior = VampPrior(4, 6, SHAPE, init=data).bind(vae.posterior)
    vae.init_output_bias(data.mean(0))
    return vae


@pytest.mark.parametrize("prior_name", ["mog", "vamp"])
@pytest.mark.parametrize("head_name", ["logistic", "mixture"])
def test_vae_trains_with_new_prior_and_head(head_name: str, prior_name: str) -> None:
    vae = build(head_name, prior_name)
    x = torch.randint(0, 256, (5, *SHAPE)) / 255  # (B, C, H, W) on the 256-level grid
    terms = elbo(vae, x, samples=2)
    assert terms.elbo.shape == (5,) and torch.isfinite(terms.loss)
    terms.loss.backward()
    for name, p in vae.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(n.startswith("prior.") for n, _ in vae.named_parameters())
    bound = iwae_bound(vae, x, 16, chunk=5)
    assert torch.isfinite(bound.elbo).all()
    samples = vae.sample(3, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (3, *SHAPE) and samples.min() >= 0 and samples.max() <= 1


def test_deepcopied_vae_keeps_its_own_vamp_prior() -> None:
    vae = build("logistic", "vamp")
    clone = copy.deepcopy(vae)
    assert clone.prior._posterior_fn.__self__ is clone
    z = torch.randn(2, 3, 4)
    torch.testing.assert_close(clone.prior.log_prob(z), vae.prior.log_prob(z))
