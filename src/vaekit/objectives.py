"""Objectives, outside the model: the ELBO (SGVB estimators A and B), β weighting, KL warm-up,
free bits, and the IWAE bound / importance-sampled log-likelihood.

Every function returns `Terms` per data point, in nats:
  elbo       = E_q[log p(x|z)] - KL(q(z|x) || p(z))       (or the IWAE bound)
  rate       = KL(q(z|x) || p(z))                          (analytic, or its Monte-Carlo estimate)
  distortion = -E_q[log p(x|z)]
and `loss`, the scalar the optimizer minimises (which may differ from -elbo under β, warm-up or
free bits).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from vaekit.latents import Latent


@dataclass
class Terms:
    elbo: torch.Tensor        # (B,)
    rate: torch.Tensor        # (B,)
    distortion: torch.Tensor  # (B,)
    loss: torch.Tensor        # scalar

    def bits_per_dim(self, n_dims: int) -> torch.Tensor:
        """-elbo in bits per data dimension (B,)."""
        return -self.elbo / (n_dims * math.log(2))


def beta_at(step: int, beta: float = 1.0, warmup_steps: int = 0, progress: float = 0.0) -> float:
    """Linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): 0 -> beta over warmup_steps, or
    sooner, by the run's `progress` in [0, 1] (training.schedule.progress) when that is further along:
    a warm-up longer than the run, in steps or under a wall-clock budget, still ends with it."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, max(step / warmup_steps, progress))


def free_bits_rate(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Σ_j max(λ, E_batch[KL_j]) (Kingma et al. 2016, eq. 15): dimensions whose minibatch-mean
    KL is under λ nats get no gradient pushing them further to the prior. Returns a scalar."""
    return torch.clamp(kl_per_dim.mean(0), min=free_bits).sum()


def layer_kl(layer: Latent, kl: str = "analytic") -> torch.Tensor:
    """KL(q(z_l|.) || p(z_l|.)) of one layer, (B, D_l) per dimension, or (B, 1) when p does not factorise.

    In closed form where valid (estimator B), else the Monte-Carlo log q - log p at the layer's
    draws (estimator A), averaged over the S draws."""
    if kl == "analytic" and layer.analytic:
        k = layer.q.kl_per_dim(layer.p)  # (B, D) or (S, B, D)
    elif hasattr(layer.p, "log_prob_per_dim"):
        k = layer.q.log_prob_per_dim(layer.z) - layer.p.log_prob_per_dim(layer.z)  # (S, B, D)
    else:
        k = (layer.q.log_prob(layer.z) - layer.p.log_prob(layer.z)).unsqueeze(-1)  # (S, B, 1)
    return k.mean(0) if k.dim() == 3 else k


def elbo(model: torch.nn.Module, x: torch.Tensor, *, samples: int = 1, kl: str = "analytic",
         beta: float | torch.Tensor = 1.0, free_bits: float = 0.0,
         generator: torch.Generator | None = None, y: torch.Tensor | None = None) -> Terms:
    """The ELBO of Kingma & Welling (2013) with L = `samples` draws per data point, summed over the
    model's stochastic layers (one for the VAE of the paper).

    kl="analytic": estimator B (eq. 7), KL in closed form (Appendix B) wherever it is valid.
    kl="mc":       estimator A (eq. 6), log q(z|x) - log p(z) at the same draws.
    y: class labels (B,) of a class-conditional model (Sohn et al. 2015), which then bounds log p(x|y).
    """
    if kl not in ("analytic", "mc"):
        raise ValueError(f"unknown KL estimator {kl!r}")
    out = model(x, samples, generator, y=y)
    distortion = -out.px.log_prob(x).mean(0)  # (B,)
    kls = [layer_kl(layer, kl) for layer in out.latents]  # each (B, D_l)
    rate = torch.stack([k.sum(-1) for k in kls]).sum(0)  # (B,)
    rate_term = sum(free_bits_rate(k, free_bits) for k in kls) if free_bits > 0 else rate.mean()
    loss = distortion.mean() + beta * rate_term
    return Terms(elbo=-(distortion + rate), rate=rate, distortion=distortion, loss=loss)


def log_weights(model: torch.nn.Module, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
                context: Any = None, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q (all layers): (log_w, log_px_z,
    log q - log p), each (k, B)."""
    out = model(x, k, generator, context=context, y=y)
    log_px_z = out.px.log_prob(x)  # (k, B)
    log_ratio = sum(layer.q.log_prob(layer.z) - layer.p.log_prob(layer.z) for layer in out.latents)  # (k, B)
    return log_px_z - log_ratio, log_px_z, log_ratio


def _weights_with(model: torch.nn.Module, generator: torch.Generator | None, x: torch.Tensor, n: int,
                  context: Any, y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    return log_weights(model, x, n, generator, context, y)


# Bytes of decoder output (and latent draws) one pass of the IWAE bound may hold. 32 MiB: the reference
# MNIST model's 100 images x 100 samples, the 10k-row pass measured fastest on the CPU (docs/benchmarks.md).
MAX_PASS_BYTES = 32 * 2**20


def bytes_per_row(model: torch.nn.Module) -> int:
    """Bytes of one row of a pass (one sample z of one data point): the likelihood head's parameters for
    every data dimension (event size x params_per_dim) plus the latent draws of every stochastic layer, at
    the densities' precision (float32 at least, `vaekit.model.full_precision`). The pass's other temporaries
    (log-density terms, its activations) are a small multiple of it."""
    dims = getattr(model, "dims", [model.latent_dim])  # a hierarchy's layer sizes, else the one z
    outputs = math.prod(model.event_shape) * model.likelihood_head.params_per_dim
    weight = next(itertools.chain(model.decoder.parameters(), model.parameters(), model.buffers()), None)
    dtype = torch.float32 if weight is None else torch.promote_types(weight.dtype, torch.float32)
    return (outputs + sum(dims)) * dtype.itemsize


def samples_per_pass(model: torch.nn.Module, batch: int, k: int, max_bytes: int | None = None) -> int:
    """How many of the k samples of `batch` data points go through the decoder at once, so that a pass
    holds at most `max_bytes` (MAX_PASS_BYTES) of rows; at least 1. A divisor of k when one is at least
    half that many: then every pass has the same shape, one graph for torch.compile (dynamic=False)."""
    limit = MAX_PASS_BYTES if max_bytes is None else max_bytes
    most = max(1, min(k, limit // (batch * bytes_per_row(model))))
    divisor = max(d for d in range(1, most + 1) if k % d == 0)
    return divisor if 2 * divisor >= most else most


def iwae_bound(model: torch.nn.Module, x: torch.Tensor, k: int, *, chunk: int | None = None,
               generator: torch.Generator | None = None, context: Any = None,
               weights_fn: Callable[..., tuple[torch.Tensor, ...]] | None = None,
               y: torch.Tensor | None = None) -> Terms:
    """The IWAE bound L_k = E[log (1/k) Σ_i w_i] (Burda et al. 2015, eq. 8), which is also the
    importance-sampled estimate of log p(x) used for evaluation at k = 5000.

    With `chunk`, the k samples are drawn `chunk` at a time and combined by a running
    log-sum-exp (in float64), so memory stays bounded for any k. k = 1 is the ELBO estimator A.
    `rate` and `distortion` are the single-sample ELBO terms averaged over the k draws.
    `context`: `model.bottom_up(x)` when the caller already has it (reused across chunks).
    `weights_fn(x, n, context, y)`: log_weights of the model, e.g. compiled (its ε from the global RNG).
    `y`: class labels of a class-conditional model.
    """
    context = model.bottom_up(x, y) if context is None else context
    if weights_fn is None:
        weights_fn = functools.partial(_weights_with, model, generator)
    chunk = k if chunk is None else max(1, min(chunk, k))
    lse_parts, distortion, rate = [], 0.0, 0.0
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        log_w, log_px_z, log_ratio = weights_fn(x, n, context, y)  # (n, B) each
        lse_parts.append(torch.logsumexp(log_w.double(), dim=0))                   # (B,)
        distortion = distortion - log_px_z.sum(0)
        rate = rate + log_ratio.sum(0)
    lse = torch.logsumexp(torch.stack(lse_parts), dim=0) if len(lse_parts) > 1 else lse_parts[0]
    dtype = x.dtype if x.dtype.is_floating_point else log_w.dtype  # token ids: the weights' float type
    bound = (lse - math.log(k)).to(dtype)  # (B,)
    return Terms(elbo=bound, rate=rate / k, distortion=distortion / k, loss=-bound.mean())
