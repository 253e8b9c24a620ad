"""Evaluation: ELBO, importance-sampled log-likelihood (Burda et al. 2015, k = 5000), bits/dim,
active units and KL per latent dimension, batched with bounded memory."""

from __future__ import annotations

import math
from typing import Any

import torch
from tqdm.auto import tqdm

from vaekit.data import TensorData, fixed_binarization, iterate_batches
from vaekit.objectives import iwae_bound, layer_kl

ROWS_PER_PASS = 10_000  # decoder rows (samples x data points) per pass: bounds memory; ~10k fits the cache best here


def active_units(means: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Burda et al. (2015), sec. 5.2: unit j is active if Cov_x(E_q[z_j|x]) > threshold.

    means: (N, D) posterior means over a data set. Returns (count, per-dimension variance)."""
    var = means.double().var(dim=0, unbiased=True)  # (D,)
    return int((var > threshold).sum()), var


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: TensorData, *, k: int = 5000, batch_size: int | None = None,
             seed: int = 0, limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Test metrics of `model` on `data`, in nats per data point.

    elbo:           E_q[log p(x|z)] (averaged over the k draws) - KL(q||p) (closed form)
    log_likelihood: log (1/k) Σ_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x)  (a stochastic lower bound)
    """
    model.eval()
    device = next(model.parameters()).device
    data = fixed_binarization(data, seed)  # dynamically binarized data: one fixed draw, as is the protocol
    if limit is not None:
        data = data.take(limit)
    n_dims = math.prod(data.event_shape)
    bs = batch_size or max(1, min(len(data), 100 if k > 1 else 1000))
    chunk = max(1, ROWS_PER_PASS // bs)
    gen = torch.Generator(device=device).manual_seed(seed)
    sums = {"elbo": 0.0, "log_likelihood": 0.0}
    means, kl_dims = [], 0.0
    bar = tqdm(total=len(data), desc=f"evaluate k={k}", unit="x", disable=not progress, leave=False)
    for x, _ in iterate_batches(data, bs, shuffle=False, generator=torch.Generator().manual_seed(seed)):
        x = x.to(device)
        context = model.bottom_up(x)
        terms = iwae_bound(model, x, k, chunk=chunk, generator=gen, context=context)
        q = model.posterior(x)
        kl = torch.cat([layer_kl(layer) for layer in model(x, 1, gen, context=context).latents], -1)  # (B, ΣD)
        sums["elbo"] += float((-terms.distortion - kl.sum(-1)).double().sum())
        sums["log_likelihood"] += float(terms.elbo.double().sum())
        kl_dims += kl.double().sum(0)
        means.append(q.mean.cpu())
        bar.update(len(x))
    bar.close()
    n = len(data)
    au, var = active_units(torch.cat(means))
    ll = sums["log_likelihood"] / n
    return {
        "elbo": sums["elbo"] / n,
        "log_likelihood": ll,
        "nll": -ll,
        "bits_per_dim": -ll / (n_dims * math.log(2)),
        "elbo_bits_per_dim": -sums["elbo"] / n / (n_dims * math.log(2)),
        "active_units": au,
        "latent_dim": model.latent_dim,
        "kl_per_dim": (kl_dims / n).tolist(),
        "posterior_mean_variance": var.tolist(),
        "k": k,
        "n": n,
    }


@torch.no_grad()
def validation_elbo(model: torch.nn.Module, data: TensorData, *, batch_size: int = 1000,
                    seed: int = 0) -> dict[str, float]:
    """The single-sample ELBO and its terms over a data set (the per-epoch validation number)."""
    from vaekit.objectives import elbo

    model.eval()
    device = next(model.parameters()).device
    data = fixed_binarization(data, seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    totals = torch.zeros(3, dtype=torch.float64)
    for x, _ in iterate_batches(data, batch_size, shuffle=False, generator=torch.Generator().manual_seed(seed)):
        t = elbo(model, x.to(device), generator=gen)
        totals += torch.stack([t.elbo.sum(), t.rate.sum(), t.distortion.sum()]).double().cpu()
    e, r, d = (totals / len(data)).tolist()
    n_dims = math.prod(data.event_shape)
    return {"elbo": e, "rate": r, "distortion": d, "bits_per_dim": -e / (n_dims * math.log(2))}
