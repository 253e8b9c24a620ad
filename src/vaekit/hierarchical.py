"""Hierarchical VAEs: stochastic layers z_1 (read by the decoder) ... z_L (top, p(z_L) = N(0, I), or a
learned prior: a mixture of Gaussians, or the VampPrior of the top posterior as in Tomczak & Welling's
2-layer HVAE, 2018, sec. 3.3).

Generative model (both kinds): p(z_L) Π_l p(z_l | z_{l+1}) p(x | z_1), each p(z_l | z_{l+1}) a diagonal
Gaussian from an MLP.

Inference, chosen by `ModelConfig.inference`:
- "bottom_up" (Burda et al. 2015, the IWAE paper's 2-layer model): q(z_1|x) Π_l q(z_{l+1}|z_l).
  Only the top KL is in closed form; the others are Monte-Carlo (q(z_l|x) does not see z_{l+1}).
- "top_down" (Ladder VAE, Sønderby et al. 2016; ResNet VAE, Kingma et al. 2016): a deterministic
  bottom-up pass d_1 = enc(x), d_{l+1} = up_l(d_l); then top-down, q(z_l | x, z_{l+1}) merges d_l with
  the prior's parameters of p(z_l | z_{l+1}), so every layer's KL is in closed form.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.config import ModelConfig
from vaekit.distributions import DiagonalGaussian, StandardNormal, VampPrior
from vaekit.generative import GenerativeAPI, full_precision
from vaekit.latents import Latent, VAEOutput
from vaekit.nets import mlp


def gaussian(h: torch.Tensor) -> DiagonalGaussian:
    """A diagonal Gaussian from a concatenated (mean, log-variance) tensor (..., 2D)."""
    return DiagonalGaussian.from_head(full_precision(h))


class HierarchicalVAE(GenerativeAPI, nn.Module):
    def __init__(self, cfg: ModelConfig, event_shape: tuple[int, ...], encoder: nn.Module, decoder: nn.Module,
                 likelihood: nn.Module, prior: nn.Module | None = None) -> None:
        super().__init__()
        self.dims = [cfg.latent_dim, *cfg.latent_layers]  # bottom -> top
        self.latent_dim = cfg.latent_dim
        self.event_shape = tuple(event_shape)
        self.top_down = cfg.inference == "top_down"
        self.encoder, self.decoder, self.likelihood_head = encoder, decoder, likelihood
        self.prior = StandardNormal(self.dims[-1]) if prior is None else prior
        if isinstance(self.prior, VampPrior):  # p(z_L) = (1/K) Σ_k q(z_L | u_k)
            self.prior.bind(self.top_posterior)
        self.prior_analytic = isinstance(self.prior, StandardNormal)  # else the top KL is Monte-Carlo
        hid, act = cfg.layer_hidden, cfg.activation
        pairs = list(zip(self.dims[:-1], self.dims[1:], strict=True))
        # up: q(z_{l+1}|z_l) (bottom-up) or the deterministic feature path d_l -> d_{l+1} (top-down)
        self.up = nn.ModuleList(mlp([2 * lo if self.top_down else lo, *hid, 2 * hi], act) for lo, hi in pairs)
        self.down = nn.ModuleList(mlp([hi, *reversed(hid), 2 * lo], act, cfg.dropout)  # p(z_l|z_{l+1})
                                  for lo, hi in pairs)
        self.merge = nn.ModuleList(mlp([4 * lo, *hid, 2 * lo], act) for lo, _ in pairs) if self.top_down else None

    def top_posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        """q(z_L | x) of top-down inference, a Gaussian of x alone: the VampPrior's components."""
        return gaussian(self.bottom_up(x)[-1])

    def bottom_up(self, x: torch.Tensor, y: None = None) -> list[torch.Tensor]:
        """Encoder outputs reused across sample chunks: [q(z_1|x) params] or the features d_1..d_L."""
        d = [self.encoder(x)]  # (B, 2 D_1)
        if self.top_down:
            for up in self.up:
                d.append(up(d[-1]))  # (B, 2 D_{l+1})
        return d

    def forward(self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
                context: list[torch.Tensor] | None = None, y: None = None) -> VAEOutput:
        d = self.bottom_up(x) if context is None else context
        latents = (self._top_down(d, n_samples, generator) if self.top_down
                   else self._bottom_up(d[0], n_samples, generator))
        return VAEOutput(latents, self.likelihood(latents[0].z))

    def _bottom_up(self, h1: torch.Tensor, s: int, gen: torch.Generator | None) -> list[Latent]:
        qs = [gaussian(h1)]
        zs = [qs[0].rsample(s, generator=gen)]  # (S, B, D_1)
        for up in self.up:
            qs.append(gaussian(up(zs[-1])))     # q(z_{l+1} | z_l), batch (S, B)
            zs.append(qs[-1].rsample(generator=gen))
        ps = [gaussian(down(z)) for down, z in zip(self.down, zs[1:], strict=True)] + [self.prior]
        top = len(zs) - 1
        return [Latent(z, q, p, analytic=(i == top and self.prior_analytic))
                for i, (z, q, p) in enumerate(zip(zs, qs, ps, strict=True))]

    def _top_down(self, d: list[torch.Tensor], s: int, gen: torch.Generator | None,
                  use_means: bool = False) -> list[Latent]:
        q = gaussian(d[-1])  # q(z_L | x)
        z = q.mean.expand(s, *q.mean.shape) if use_means else q.rsample(s, generator=gen)  # (S, B, D_L)
        latents = [Latent(z, q, self.prior, analytic=self.prior_analytic)]
        for l in reversed(range(len(self.down))):
            p_params = self.down[l](z)                                 # (S, B, 2 D_l)
            feats = d[l].expand(z.shape[0], *d[l].shape)               # (S, B, 2 D_l)
            q = gaussian(self.merge[l](torch.cat([feats, p_params], -1)))  # q(z_l | x, z_{l+1})
            z = q.mean if use_means else q.rsample(generator=gen)
            latents.append(Latent(z, q, gaussian(p_params), analytic=True))
        return latents[::-1]  # bottom first

    def posterior(self, x: torch.Tensor, y: None = None) -> DiagonalGaussian:
        """q(z_1 | x): exact for bottom-up inference; for top-down, with the layers above at their means."""
        d = self.bottom_up(x)
        if not self.top_down:
            return gaussian(d[0])
        q = self._top_down(d, 1, None, use_means=True)[0].q
        return DiagonalGaussian(q.mean[0], q.logvar[0])  # (B, D_1)

    @torch.no_grad()
    def layer_means(self, d: list[torch.Tensor]) -> list[torch.Tensor]:
        """E_q[z_l | x] of every layer, bottom first, each (B, D_l), from the encoder pass d = bottom_up(x),
        along the mean path: each layer's q mean with the layer it is conditioned on at its own mean
        (bottom-up: q(z_{l+1} | z_l = mean); top-down: q(z_l | x, z_{l+1} = mean)). Exact for the first
        layer inferred (z_1 bottom-up, z_L top-down); for the others the mean path stands in for the
        average over draws of the layers before them. Active units are counted from these
        (Burda et al. 2015, sec. 5.2, per stochastic layer)."""
        if self.top_down:
            return [layer.z[0] for layer in self._top_down(d, 1, None, use_means=True)]  # z = q means, (1, B, D_l)
        means = [gaussian(d[0]).mean]  # (B, D_1)
        for up in self.up:
            means.append(gaussian(up(means[-1])).mean)  # (B, D_{l+1})
        return means

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling z_L ~ p(z_L), z_l ~ p(z_l | z_{l+1}); returns z_1 (n, D_1)."""
        p = next(self.parameters())
        z = self.prior.sample(n, generator=generator, device=p.device, dtype=p.dtype)
        for down in reversed(self.down):
            z = gaussian(down(z)).rsample(generator=generator)
        return z
