"""The VAE: wires encoder and decoder networks to q(z|x), p(z) and p(x|z).

`forward` returns distributions and samples, never a loss: objectives live in
`vaekit.objectives` (as in NVAE), so β-VAE, IWAE and warm-up are functions, not subclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from vaekit.config import ModelConfig
from vaekit.distributions import (
    DiagonalGaussian,
    StandardNormal,
)
from vaekit.distributions.priors import MixtureOfGaussiansPrior, VampPrior
from vaekit.generative import GenerativeAPI, full_precision
from vaekit.hierarchical import HierarchicalVAE
from vaekit.latents import Latent, VAEOutput


class VAE(GenerativeAPI, nn.Module):
    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: nn.Module, latent_dim: int,
                 event_shape: tuple[int, ...], n_classes: int = 0) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood_head = likelihood
        self.latent_dim = latent_dim
        self.event_shape = tuple(event_shape)
        self.prior = StandardNormal(latent_dim)

    def posterior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """q(z|x[, y]): the encoder's concatenated head split into mean and log-variance."""
        c = self.label_code(y, (len(x),))
        h = self.encoder(x) if c is None else self.encoder(x, c)  # (B, 2D)
        return DiagonalGaussian.from_head(full_precision(h))  # (B, D) mean and log-variance

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        p = next(self.parameters())
        return self.prior.sample(n, generator=generator, device=p.device, dtype=p.dtype)

    def bottom_up(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """What inference can reuse across sample chunks of the same x (here q(z|x) itself)."""
        return self.posterior(x, y)

    def forward(self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
                context: DiagonalGaussian | None = None, y: torch.Tensor | None = None) -> VAEOutput:
        """Draw S = n_samples latents per data point: z ~ q(z|x), and p(x|z). No loss here."""
        q = self.bottom_up(x, y) if context is None else context
        z = q.rsample(n_samples, generator=generator)  # (S, B, D)
        analytic = isinstance(self.prior, StandardNormal)  # closed-form KL (App. B) needs a Gaussian prior
        return VAEOutput([Latent(z=z, q=q, p=self.prior, analytic=analytic)], self.likelihood(z, y))



# p(z) of the top stochastic layer, of size `dim`; None: the standard normal
PRIORS: dict[str, Callable[[ModelConfig, int, tuple[int, ...], torch.Tensor | None], nn.Module | None]] = {
    "standard": lambda cfg, dim, shape, data: None,
    "mog": lambda cfg, dim, shape, data: MixtureOfGaussiansPrior(dim, cfg.prior_components),
    # pseudo-inputs start at training items (Tomczak & Welling 2018, sec. 3.2), else uniform noise
    "vamp": lambda cfg, dim, shape, data: VampPrior(dim, cfg.prior_components, shape, init=data),
}


def build_model(cfg: ModelConfig, event_shape: tuple[int, ...], data: torch.Tensor | None = None,
                kind: Any = None, stats: dict | None = None) -> nn.Module:
    """The VAE a model config describes, for data of the given event shape: one stochastic layer,
    or a hierarchy when `latent_layers` is set. `data`: training items a VampPrior starts from.
    kind: the data's `vaekit.kinds.Kind`, which gives the encoder and decoder networks; stats: the
    training split's `data.stats`, which the kind may read (e.g. a vocabulary's size)."""
    if kind is None:  # vaekit's generic networks (any event shape for mlp/resmlp, images for conv/resnet)
        from vaekit.kinds.base import Kind

        kind = Kind()
    head = kind.likelihood(cfg, tuple(event_shape), stats)
    own = kind.model(cfg, tuple(event_shape), head, stats)
    if own is not None:
        return own
    enc, dec = kind.networks(cfg, tuple(event_shape), head.params_per_dim, stats)
    prior = PRIORS[cfg.prior](cfg, [cfg.latent_dim, *cfg.latent_layers][-1], tuple(event_shape), data)
    if cfg.latent_layers:
        return HierarchicalVAE(cfg, tuple(event_shape), enc, dec, head, prior)
    vae = VAE(enc, dec, head, cfg.latent_dim, event_shape, n_classes=cfg.n_classes if cfg.conditional else 0)
    if prior is not None:
        vae.prior = prior.bind(vae.posterior) if isinstance(prior, VampPrior) else prior
    return vae
