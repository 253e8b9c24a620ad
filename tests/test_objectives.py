"""Objectives: the IWAE bound refuses the ELBO's KL weights; free bits under a prior that does not factorise."""

from __future__ import annotations

import pytest
import torch

from vaekit.config import Config, ModelConfig, TrainConfig
from vaekit.errors import ConfigError
from vaekit.model import build_model
from vaekit.objectives import elbo, layer_kl


@pytest.mark.parametrize("values, names", [
    ({"beta": 0.5}, "--beta"),
    ({"warmup_steps": 1000}, "--warmup-steps"),
    ({"free_bits": 0.25}, "--free-bits"),
    ({"beta": 2.0, "free_bits": 0.1}, "--beta, --free-bits"),
])
def test_iwae_objective_refuses_the_kl_weights_it_would_ignore(values, names):
    with pytest.raises(ConfigError, match=f"--objective iwae.*{names}.*no KL term"):
        TrainConfig(objective="iwae", **values)
    with pytest.raises(ConfigError, match="--objective iwae"):
        Config.from_dict({"train": {"objective": "iwae", **values}})
    TrainConfig(objective="elbo", **values)  # the ELBO weights its KL term: fine there


def test_iwae_objective_with_default_kl_weights_validates():
    t = TrainConfig(objective="iwae", iwae_k=10)
    assert (t.beta, t.warmup_steps, t.free_bits) == (1.0, 0, 0.0)
    Config.from_dict({"train": {"objective": "iwae", "beta": 1.0, "warmup_steps": 0, "free_bits": 0.0}})
    TrainConfig()


@pytest.mark.parametrize("prior", ["mog", "vamp"])
def test_free_bits_with_a_mixture_prior_floor_the_layers_total_kl_once(prior):
    torch.manual_seed(0)
    m = build_model(ModelConfig(hidden=[16], latent_dim=5, prior=prior, prior_components=3), (6,),
                    data=torch.rand(4, 6)).double()
    x = (torch.rand(8, 6) < 0.4).double()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    t = elbo(m, x, generator=g())
    kl = layer_kl(m(x, 1, g()).latents[0])
    assert kl.shape == (8, 1)  # p(z) does not factorise: one Monte-Carlo KL column for the whole layer
    assert torch.allclose(kl.sum(-1), t.rate)
    mean_kl = float(t.rate.mean())
    for lam in (0.01, 0.5, 2.0, 10.0):
        # max(λ, E_batch[KL of the layer]): λ once for the layer's 5 dimensions, where a factorising prior
        # would get Σ_j max(λ, E_batch[KL_j]) >= 5 λ
        rate_term = elbo(m, x, free_bits=lam, generator=g()).loss.item() - t.distortion.mean().item()
        assert rate_term == pytest.approx(max(lam, mean_kl), abs=1e-9)
    assert rate_term == pytest.approx(10.0, abs=1e-9)  # not 50
