"""The sequential VAE of videos: the disentangled sequential autoencoder (Li & Mandt 2018, "Disentangled
Sequential Autoencoder", `--model dsae`) and its frame-by-frame baseline (`--model frames`).

Generative model (eq. 1-2): p(x_1:T, f, z_1:T) = p(f) Π_t p(z_t | z_<t) p(x_t | f, z_t), with p(f) = N(0, I)
and p(z_t | z_<t) a Gaussian from an LSTM over z_<t (`nets.SequencePrior`). Inference is the paper's
factorised posterior (eq. 4): q(f | x_1:T) Π_t q(z_t | x_1:T) (`nets.VideoEncoder`).

The latent is ONE flat vector per video, [f (S values), z_1, ..., z_T (D values each)], of
`latent_dim` = S + T D values, so that vaekit's objectives, evaluation and pictures use the model as they use
`vaekit.model.VAE`: q is one `DiagonalGaussian` over it (exact: q factorises over f and the z_t), and for
draws z ~ q, `prior_at(z)` is the Gaussian whose coordinates are p(f) and p(z_t | z_<t) at those draws. Its
log_prob(z) is then log p(f) + Σ_t log p(z_t | z_<t), exactly log p(z). And since q(z_t | x) does not depend
on z_<t, KL(q(z_t | x) || p(z_t | z_<t)) in closed form, averaged over the draws of z_<t, is an unbiased
estimate of E_q[log q(z_t | x) - log p(z_t | z_<t)]: the layer is `analytic` (as the top-down layers of
`vaekit.hierarchical`), and free bits act per coordinate.

`--static-dim 0` drops f (S = 0: a sequence model with z_t only). `--model frames` also drops the LSTMs:
q(z_t | x_t) from frame t alone and p(z_t) = N(0, I), an image VAE applied to each frame (its log p(x) of a
video is the sum of its frames'). docs/videos.md.
"""

from __future__ import annotations

import torch
from torch import nn

from vaekit.config import ModelConfig
from vaekit.distributions import DiagonalGaussian, StandardNormal
from vaekit.errors import ConfigError
from vaekit.generative import GenerativeAPI, full_precision
from vaekit.kinds.videos.nets import SequencePrior, VideoDecoder, VideoEncoder
from vaekit.latents import Latent, VAEOutput


class SequentialVAE(GenerativeAPI, nn.Module):
    """A VAE of videos (N, T, C, H, W) whose latent is [f, z_1, ..., z_T]. `prior`: the learned
    `SequencePrior` p(z_t | z_<t), or None for p(z) = N(0, I) over the whole flat latent."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, likelihood: nn.Module, event_shape: tuple[int, ...],
                 static_dim: int, frame_dim: int, prior: SequencePrior | None) -> None:
        super().__init__()
        self.encoder, self.decoder, self.likelihood_head = encoder, decoder, likelihood
        self.event_shape = tuple(event_shape)
        self.frames = self.event_shape[0]  # T
        self.static_dim, self.frame_dim = static_dim, frame_dim  # S, D
        self.latent_dim = static_dim + self.frames * frame_dim  # the flat latent every generic tool reads
        self.prior: SequencePrior | StandardNormal = StandardNormal(self.latent_dim) if prior is None else prior

    # --- the flat latent ------------------------------------------------------------------------
    def split_latent(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (..., S + T D) -> f (..., S) and z_1:T (..., T, D)."""
        s = self.static_dim
        return z[..., :s], z[..., s:].reshape(*z.shape[:-1], self.frames, self.frame_dim)

    def join_latent(self, f: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
        """f (..., S) and z_1:T (..., T, D) -> z (..., S + T D); the inverse of `split_latent`."""
        return torch.cat([f, zs.flatten(-2)], -1)

    # --- inference and the prior ----------------------------------------------------------------
    def posterior(self, x: torch.Tensor, y: None = None) -> DiagonalGaussian:
        """q(f, z_1:T | x_1:T) over the flat latent, batch (B,)."""
        return DiagonalGaussian.from_head(full_precision(self.encoder(x)))  # (B, S + T D) each

    def bottom_up(self, x: torch.Tensor, y: None = None) -> DiagonalGaussian:
        """What the IWAE bound reuses across sample chunks of the same x: q itself."""
        return self.posterior(x)

    def prior_at(self, z: torch.Tensor) -> DiagonalGaussian | StandardNormal:
        """p(z) as a diagonal Gaussian at draws z (*S, B, S + T D): coordinates of f under N(0, I), those of z_t
        under p(z_t | z_<t) read from the same draw's z_<t. N(0, I) itself without a learned prior."""
        if isinstance(self.prior, StandardNormal):
            return self.prior
        f, zs = self.split_latent(z)  # (..., S), (..., T, D)
        p = self.prior(zs.reshape(-1, self.frames, self.frame_dim))  # batch (prod lead, T)
        lead = zs.shape[:-2]
        mean = p.mean.reshape(*lead, -1)  # (..., T D)
        logvar = p.logvar.reshape(*lead, -1)
        zeros = torch.zeros_like(f, dtype=mean.dtype)  # p(f) = N(0, I): mean 0, log-variance 0
        return DiagonalGaussian(torch.cat([zeros, mean], -1), torch.cat([zeros, logvar], -1))

    def forward(self, x: torch.Tensor, n_samples: int = 1, generator: torch.Generator | None = None,
                context: DiagonalGaussian | None = None, y: None = None) -> VAEOutput:
        """Draw S = n_samples latents per video, z ~ q, with p(z) at those draws and p(x|z). No loss here."""
        q = self.bottom_up(x) if context is None else context
        z = q.rsample(n_samples, generator=generator)  # (S, B, S + T D)
        return VAEOutput([Latent(z=z, q=q, p=self.prior_at(z), analytic=True)], self.likelihood(z))

    # --- drawing from the generative model ------------------------------------------------------
    def _motion(self, n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        """z_1:T (n, T, D) drawn from their prior: ancestrally from p(z_t | z_<t), or N(0, I)."""
        if isinstance(self.prior, SequencePrior):
            return self.prior.sample(n, self.frames, generator, like)
        shape = (n, self.frames, self.frame_dim)
        return torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)

    def _content(self, n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
        """f (n, S) drawn from p(f) = N(0, I)."""
        return torch.randn((n, self.static_dim), generator=generator, device=like.device, dtype=like.dtype)

    @torch.no_grad()
    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral draws f ~ p(f), z_t ~ p(z_t | z_<t): flat latents (n, S + T D)."""
        like = next(self.decoder.parameters())
        f = self._content(n, generator, like)
        return self.join_latent(f, self._motion(n, generator, like))

    @torch.no_grad()
    def sample_motion(self, f: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Keep the content f (N, S), draw new motion z_1:T from its prior: flat latents (N, S + T D)."""
        return self.join_latent(f, self._motion(len(f), generator, f))

    @torch.no_grad()
    def sample_content(self, zs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Keep the motion z_1:T (N, T, D), draw new content f ~ N(0, I): flat latents (N, S + T D)."""
        return self.join_latent(self._content(len(zs), generator, zs), zs)

    @torch.no_grad()
    def swap(self, x_content: torch.Tensor, x_motion: torch.Tensor) -> torch.Tensor:
        """Videos (N, T, C, H, W) decoded from f of `x_content` and z_1:T of `x_motion`, both at the posterior
        means: the content of the first moving as the second (Li & Mandt 2018, sec. 5.1). Without f
        (`--static-dim 0`, `--model frames`) this is the reconstruction of `x_motion`."""
        f = self.split_latent(self.posterior(x_content).mean)[0]
        zs = self.split_latent(self.posterior(x_motion).mean)[1]
        return self.decode(self.join_latent(f, zs))


def check_config(cfg: ModelConfig, event_shape: tuple[int, ...]) -> None:
    """Refuse what the sequential VAE does not model, naming the option."""
    if len(event_shape) != 4:
        raise ConfigError(f"--model {cfg.arch} reads videos (T, C, H, W); the items have shape {tuple(event_shape)}")
    if cfg.conditional:
        raise ConfigError(f"--conditional: --model {cfg.arch} is not class-conditional (its static latent f "
                          "already holds what a video shows)")
    if cfg.latent_layers:
        raise ConfigError(f"--latent-layers: --model {cfg.arch} has its own latent layout (f and one z_t per "
                          "frame); it takes no further stochastic layers")
    if cfg.prior != "standard":
        raise ConfigError(f"--prior {cfg.prior}: --model {cfg.arch} has its own prior (p(f) = N(0, I) and a "
                          "learned p(z_t | z_<t)); use --prior standard")


def build_sequential(cfg: ModelConfig, event_shape: tuple[int, ...], likelihood: nn.Module) -> SequentialVAE:
    """The sequential VAE `cfg` describes for videos of event shape (T, C, H, W): `--model dsae` (f of
    `static_dim` values, z_t of `latent_dim`, LSTMs of `rnn_hidden`) or `--model frames` (no f, no LSTM).
    likelihood: the head of p(x|z) for the whole video (event shape (T, C, H, W))."""
    check_config(cfg, event_shape)
    frames, frame_shape = event_shape[0], tuple(event_shape[1:])
    sequence = cfg.arch == "dsae"
    static_dim = cfg.static_dim if sequence else 0
    nets = {"channels_base": cfg.channels_base, "hidden": cfg.hidden[0], "activation": cfg.activation,
            "static_dim": static_dim, "frame_dim": cfg.latent_dim}
    encoder = VideoEncoder(frame_shape, **nets, rnn_hidden=cfg.rnn_hidden, sequence=sequence)
    decoder = VideoDecoder(frame_shape, **nets, frames=frames, params_per_dim=likelihood.params_per_dim)
    prior = SequencePrior(cfg.latent_dim, cfg.rnn_hidden) if sequence else None
    return SequentialVAE(encoder, decoder, likelihood, event_shape, static_dim, cfg.latent_dim, prior)
