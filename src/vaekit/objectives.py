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

import math
from dataclasses import dataclass

import torch

from vaekit.distributions import DiagonalGaussian


@dataclass
class Terms:
    elbo: torch.Tensor        # (B,)
    rate: torch.Tensor        # (B,)
    distortion: torch.Tensor  # (B,)
    loss: torch.Tensor        # scalar

    def bits_per_dim(self, n_dims: int) -> torch.Tensor:
        """-elbo in bits per data dimension (B,)."""
        return -self.elbo / (n_dims * math.log(2))


def beta_at(step: int, beta: float = 1.0, warmup_steps: int = 0) -> float:
    """Linear KL warm-up (Bowman et al. 2016; Sønderby et al. 2016): 0 -> beta over warmup_steps."""
    if warmup_steps <= 0:
        return beta
    return beta * min(1.0, step / warmup_steps)


def free_bits_rate(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Σ_j max(λ, E_batch[KL_j]) (Kingma et al. 2016, eq. 15): dimensions whose minibatch-mean
    KL is under λ nats get no gradient pushing them further to the prior. Returns a scalar."""
    return torch.clamp(kl_per_dim.mean(0), min=free_bits).sum()


def elbo(model: torch.nn.Module, x: torch.Tensor, *, samples: int = 1, kl: str = "analytic",
         beta: float = 1.0, free_bits: float = 0.0, generator: torch.Generator | None = None) -> Terms:
    """The ELBO of Kingma & Welling (2013) with L = `samples` draws per data point.

    kl="analytic": estimator B (eq. 7), KL in closed form (Appendix B).
    kl="mc":       estimator A (eq. 6), log q(z|x) - log p(z) at the same draws.
    """
    q: DiagonalGaussian = model.posterior(x)
    z = q.rsample(samples, generator=generator)  # (L, B, D)
    log_px_z = model.likelihood(z).log_prob(x)   # (L, B)
    distortion = -log_px_z.mean(0)               # (B,)
    if kl == "analytic":
        kl_per_dim = q.kl_per_dim(model.prior)                                 # (B, D)
    elif kl == "mc":
        kl_per_dim = (q.log_prob_per_dim(z) - model.prior.log_prob_per_dim(z)).mean(0)  # (B, D)
    else:
        raise ValueError(f"unknown KL estimator {kl!r}")
    rate = kl_per_dim.sum(-1)  # (B,)
    rate_term = free_bits_rate(kl_per_dim, free_bits) if free_bits > 0 else rate.mean()
    loss = distortion.mean() + beta * rate_term
    return Terms(elbo=-(distortion + rate), rate=rate, distortion=distortion, loss=loss)


def log_weights(model: torch.nn.Module, x: torch.Tensor, q: DiagonalGaussian, k: int,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x): each (k, B)."""
    z = q.rsample(k, generator=generator)      # (k, B, D)
    log_px_z = model.likelihood(z).log_prob(x)  # (k, B)
    log_pz = model.prior.log_prob(z)            # (k, B)
    log_qz_x = q.log_prob(z)                    # (k, B)
    return log_px_z + log_pz - log_qz_x, log_px_z, log_qz_x - log_pz


def iwae_bound(model: torch.nn.Module, x: torch.Tensor, k: int, *, chunk: int | None = None,
               generator: torch.Generator | None = None, q: DiagonalGaussian | None = None) -> Terms:
    """The IWAE bound L_k = E[log (1/k) Σ_i w_i] (Burda et al. 2015, eq. 8), which is also the
    importance-sampled estimate of log p(x) used for evaluation at k = 5000.

    With `chunk`, the k samples are drawn `chunk` at a time and combined by a running
    log-sum-exp (in float64), so memory stays bounded for any k. k = 1 is the ELBO estimator A.
    `rate` and `distortion` are the single-sample ELBO terms averaged over the k draws.
    `q`: q(z|x) when the caller already has it.
    """
    q = model.posterior(x) if q is None else q
    chunk = k if chunk is None else max(1, min(chunk, k))
    lse_parts, distortion, rate = [], 0.0, 0.0
    for start in range(0, k, chunk):
        n = min(chunk, k - start)
        log_w, log_px_z, log_ratio = log_weights(model, x, q, n, generator)  # (n, B) each
        lse_parts.append(torch.logsumexp(log_w.double(), dim=0))             # (B,)
        distortion = distortion - log_px_z.sum(0)
        rate = rate + log_ratio.sum(0)
    lse = torch.logsumexp(torch.stack(lse_parts), dim=0) if len(lse_parts) > 1 else lse_parts[0]
    bound = (lse - math.log(k)).to(x.dtype)  # (B,)
    return Terms(elbo=bound, rate=rate / k, distortion=distortion / k, loss=-bound.mean())
