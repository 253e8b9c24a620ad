"""The mutual information between x and z under the encoder, I_q(x; z) (He et al. 2019, "Lagging Inference
Networks and Posterior Collapse in Variational Autoencoders", sec. 4 and their code's `calc_mi`).

With the data's empirical distribution p_d(x) and the aggregate posterior q(z) = (1/N) Σ_j q(z|x_j),

    I_q(x; z) = E_{p_d(x)} E_{q(z|x)}[log q(z|x)] - E_{q(z)}[log q(z)]  (in nats, between 0 and log N),

the rate KL(q(z|x) || p(z)) minus KL(q(z) || p(z)): the part of the rate that tells data points apart. A
collapsed posterior (q(z|x) = p(z) for every x) has I_q = 0; aggressive inference-network training
(`vaekit.training.aggressive`) stops when it stops climbing.
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)
ELEMENTS_PER_CHUNK = 1 << 22  # (rows, N) float64 log-densities a chunk holds at most: 32 MB


def mutual_information(mean: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
                       chunk: int | None = None) -> float:
    """I_q(x; z) of N diagonal Gaussian posteriors q(z|x_j) = N(mean_j, diag exp(logvar_j)), each (N, D).

    E_q[log q(z|x_j)] is minus the Gaussian's entropy, -1/2 Σ_d (log 2π + 1 + logvar_jd), in closed form;
    E_{q(z)}[log q(z)] takes one draw z_i ~ q(z|x_i) per item, z_i = mean_i + exp(logvar_i / 2) ε_i with
    ε = torch.randn((N, D), generator=generator, dtype=float64) drawn on mean's device, and
    log q(z_i) = logsumexp_j log q(z_i|x_j) - log N. As q(z) is a fixed mixture, the estimate is
    unbiased for I_q; its noise (one draw per item) has standard deviation about sqrt(D / 2N).

    q(z) mixes all N posteriors, where He et al.'s code mixes those of one minibatch and averages over
    batches: with B items in the mixture the estimate cannot exceed log B (4.9 nats for B = 128), so the
    per-batch figure saturates and depends on the batch size. Here it reads the whole evaluated set, rows
    of the (N, N) matrix of log q(z_i|x_j) `chunk` at a time (default: as many as keep a chunk within
    ELEMENTS_PER_CHUNK), so memory stays bounded for any N.

    Σ_d (z_id - mean_jd)² / var_jd is expanded into three matrix products (N = 10,000, D = 32: 3-4 s on
    2 CPU cores, where the (C, N, D) differences took 130 s), in float64 and about the data's centre; the
    expansion's rounding is about 1e-16 Σ_d (z_id² + mean_jd²) / var_jd nats, 1e-8 nats for means of 50
    and variances of 5e-5; the terms j = i, which dominate when the posteriors hardly overlap, are taken
    exactly, log_norm_i - 1/2 Σ_d ε_id².
    """
    if mean.dim() != 2 or mean.shape != logvar.shape:
        raise ValueError(f"mean and logvar must both be (N, D); got {tuple(mean.shape)} and {tuple(logvar.shape)}")
    mean, logvar = mean.double(), logvar.double()
    n, d = mean.shape
    if n == 0:
        raise ValueError("mutual information of an empty set of posteriors")
    rows = chunk or max(1, ELEMENTS_PER_CHUNK // max(n * d, 1))
    eps = torch.randn((n, d), generator=generator, dtype=torch.float64, device=mean.device)
    z = mean + torch.exp(0.5 * logvar) * eps  # (N, D): z_i ~ q(z|x_i)
    centre = mean.mean(0)  # (z - mean)² is unchanged by the shift; the expanded terms shrink
    z, mean = z - centre, mean - centre
    neg_entropy = -0.5 * (LOG_2PI + 1 + logvar).sum(-1).mean()
    log_norm = -0.5 * (d * LOG_2PI + logvar.sum(-1))  # (N,): log q's normaliser of each x_j
    inv_var = torch.exp(-logvar)  # (N, D)
    # log q(z_i|x_j) = log_norm_j - 1/2 [z_i² · (1/var_j) - 2 z_i · (mean_j/var_j) + Σ_d mean_jd²/var_jd]
    offset = log_norm - 0.5 * (mean**2 * inv_var).sum(-1)  # (N,)
    weighted = mean * inv_var  # (N, D)
    own = log_norm - 0.5 * (eps**2).sum(-1)  # (N,): log q(z_i|x_i), exactly
    log_qz = torch.cat([_log_aggregate(z[i:i + rows], inv_var, weighted, offset, own[i:i + rows], i)
                        for i in range(0, n, rows)])
    return float(neg_entropy - (log_qz.mean() - math.log(n)))


def _log_aggregate(z: torch.Tensor, inv_var: torch.Tensor, weighted: torch.Tensor, offset: torch.Tensor,
                   own: torch.Tensor, start: int) -> torch.Tensor:
    """logsumexp_j log q(z_i|x_j) for the chunk of draws z (C, D) of items start ... start + C - 1: (C,)."""
    log_q = offset[None] - 0.5 * (z**2 @ inv_var.T) + z @ weighted.T  # (C, N)
    rows = torch.arange(len(z), device=z.device)
    log_q[rows, rows + start] = own  # the j = i terms
    return torch.logsumexp(log_q, dim=1)  # (C,)
