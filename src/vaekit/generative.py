"""What every VAE in vaekit offers its users, one-layer or hierarchical: encode, decode, reconstruct,
sample, convert and the importance-sampled log-likelihood (inference-time helpers, no gradients). The
models (`vaekit.model.VAE`, `vaekit.hierarchical.HierarchicalVAE`) inherit it and provide the parts it
names."""

from __future__ import annotations

from typing import Any

import torch

from vaekit.distributions import DiagonalGaussian
from vaekit.errors import ConfigError


def full_precision(h: torch.Tensor) -> torch.Tensor:
    """Network outputs under bf16 autocast come back as bf16; densities and their sums over hundreds
    of pixels need float32 (bf16 keeps 8 bits of mantissa). float32 and float64 pass unchanged."""
    return h.to(torch.promote_types(h.dtype, torch.float32))


class GenerativeAPI:
    """The user-facing API shared by every VAE in vaekit (inference-time helpers, no gradients).

    A model provides `decoder`, `likelihood_head`, `latent_dim`, `posterior(x, y)` (q of the layer the
    decoder reads) and `prior_sample(n, generator)` (z for the decoder, drawn from the generative model).
    A class-conditional model (`n_classes` > 0; Sohn et al. 2015) needs the labels `y` (N,) wherever it
    encodes or decodes: p(x|z, y) and q(z|x, y)."""

    n_classes: int = 0

    def label_code(self, y: torch.Tensor | None, lead: tuple[int, ...]) -> torch.Tensor | None:
        """The one-hot code of labels y (B,) broadcast to (*lead, K); None for an unconditional model."""
        if not self.n_classes:
            return None
        if y is None:
            raise ConfigError(f"this model is class-conditional ({self.n_classes} classes): encoding and decoding "
                              "need class labels y (vaekit sample --label, vaekit convert, reconstruct/encode "
                              "--label; interpolate, traverse and manifold take unconditional models only)")
        if y.dtype.is_floating_point or (not torch.compiler.is_compiling() and ((y < 0) | (y >= self.n_classes)).any()):
            raise ConfigError(f"labels must be integers in 0..{self.n_classes - 1}")
        onehot = torch.nn.functional.one_hot(y.long(), self.n_classes).to(self.decoder_dtype)  # (B, K)
        return onehot.expand(*lead[:-1], *onehot.shape) if len(lead) > 1 else onehot

    @property
    def decoder_dtype(self) -> torch.dtype:
        return next(self.decoder.parameters()).dtype

    def likelihood(self, z: torch.Tensor, y: torch.Tensor | None = None) -> Any:
        """p(x|z[, y]) for z of shape (*S, D) (the layer the decoder reads); the distribution's batch shape is S."""
        lead = z.shape[:-1]
        c = self.label_code(y, lead)  # (*S, K) or None
        zc = z if c is None else torch.cat([z, c], -1)  # the decoder reads [z, onehot(y)]
        h = full_precision(self.decoder(zc.reshape(-1, zc.shape[-1])))  # (prod S, *out)
        return self.likelihood_head(h.view(*lead, *h.shape[1:]))  # (*S, *out)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        return self.posterior(x, y)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean of p(x|z) (pixel probabilities for a Bernoulli likelihood)."""
        return self.likelihood(z, y).mean

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.posterior(x, y).mean, y)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, y: torch.Tensor | None = None
               ) -> torch.Tensor:
        """Decode n draws from the generative model: mean images of p(x|z[, y]), z ~ p(z)."""
        return self.decode(self.prior_sample(n, generator), y)

    @torch.no_grad()
    def convert(self, x: torch.Tensor, y: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Keep an input's style, change its class (Sohn et al. 2015): z = E q(z|x, y) with the input's own
        label, decoded with the target label."""
        return self.decode(self.posterior(x, y).mean, target)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int = 5000, chunk: int | None = None,
                       generator: torch.Generator | None = None, y: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-sampled log p(x) (log p(x|y) for a conditional model) per data point, in nats
        (Burda et al. 2015, eq. 8). The k samples go through the decoder `chunk` at a time, by default as
        many as keep a pass under `objectives.MAX_PASS_BYTES`; the estimator does not depend on the chunk."""
        from vaekit.objectives import iwae_bound, samples_per_pass

        chunk = samples_per_pass(self, len(x), k) if chunk is None else chunk
        return iwae_bound(self, x, k, chunk=chunk, generator=generator, y=y).elbo

    @torch.no_grad()
    def init_output_bias(self, data_mean: torch.Tensor) -> None:
        """Start p(x|z) at the data's marginal mean (the decoder's output bias; as Burda et al. 2015
        initialise theirs): it saves the first epoch from learning the average image. data_mean: event shape."""
        self.decoder.set_output_bias(self.likelihood_head.params_for_mean(data_mean))
