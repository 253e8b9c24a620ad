"""What a model's inference pass returns: one `Latent` per stochastic layer, and p(x|z).

The objectives (`vaekit.objectives`) only read these, so one ELBO / IWAE implementation serves the
one-layer VAE, hierarchical VAEs and learned priors alike (the loss is never copied into a model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vaekit.distributions import DiagonalGaussian


@dataclass
class Latent:
    """One stochastic layer z_l: its samples, q(z_l | x, z_>l) and p(z_l | z_>l) (the prior at the top)."""

    z: torch.Tensor       # (S, B, D_l) reparameterised samples
    q: DiagonalGaussian   # batch (B,) or (S, B): broadcasts against z
    p: Any                # log_prob(z) -> (S, B); log_prob_per_dim / kl_per_dim when factorised
    analytic: bool        # closed-form KL(q || p) is a valid estimator of E_q[log q - log p] here


@dataclass
class VAEOutput:
    latents: list[Latent]  # top layer last
    px: Any                # p(x | z_1), batch (S, B)

    @property
    def z(self) -> torch.Tensor:
        return self.latents[0].z  # the layer the decoder reads

    @property
    def q(self) -> DiagonalGaussian:
        return self.latents[0].q
