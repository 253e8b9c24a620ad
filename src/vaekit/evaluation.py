"""Evaluation: ELBO, importance-sampled log-likelihood (Burda et al. 2015, k = 5000), bits/dim where
they are defined, active units per stochastic layer, KL per latent dimension and the mutual information
I_q(x; z) (He et al. 2019), batched with bounded memory (`objectives.MAX_PASS_BYTES` a pass)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from vaekit.data import TensorData, fixed_binarization, iterate_batches, random_items
from vaekit.distributions import DiagonalGaussian
from vaekit.fast import denormals
from vaekit.fast.compiling import CompiledOrEager
from vaekit.information import mutual_information
from vaekit.kinds.base import Unit
from vaekit.objectives import iwae_bound, layer_kl, log_weights, samples_per_pass


def sampling_seed(seed: int, child: int = 1) -> int:
    """The seed of the ε draws of an evaluation with `seed`; the binarization of the data takes `seed`
    itself, so the test set's fixed draw is that of `seed`. Both seed a Mersenne Twister: from one seed
    they would be one stream, ε a function of the binarization's uniforms. This is spawned child 1 of
    numpy's SeedSequence(seed), whose hashing gives unrelated 64-bit states even for adjacent seeds;
    child 2 seeds the draws of the mutual information."""
    return int(np.random.SeedSequence(seed, spawn_key=(child,)).generate_state(1, np.uint64)[0] >> 1)


def kind_of_data(data: Any) -> Any:
    """The `vaekit.kinds.Kind` of a data set (images unless it says otherwise)."""
    from vaekit.kinds import kind_named

    return kind_named(getattr(data, "kind", "images"))


def unit_of(model: torch.nn.Module, data: Any) -> Unit | None:
    """The per-item unit of log p(x) that the data's kind of data reports beside nats (`Kind.unit`):
    bits/dim for images where p(x|z) is a probability mass on the data's values; None for arrays."""
    return kind_of_data(data).unit(model, data)


def in_unit(unit: Unit | None, key: str, nats: float) -> dict[str, float]:
    """{key_UNIT: -nats in the unit} (e.g. {"bits_per_dim": ...}), and its exp where the unit has one
    ({"perplexity": ...}), or nothing where no unit is defined."""
    if unit is None:
        return {}
    found = {f"{key}{unit.key}": unit.of(nats)}
    if unit.exp_key:
        found[f"{key}{unit.exp_key}"] = math.exp(unit.of(nats))
    return found


def active_units(means: torch.Tensor, threshold: float = 0.01) -> tuple[int, torch.Tensor]:
    """Burda et al. (2015), sec. 5.2: unit j is active if Cov_x(E_q[z_j|x]) > threshold.

    means: (N, D) posterior means over a data set. Returns (count, per-dimension variance)."""
    var = means.double().var(dim=0, unbiased=True)  # (D,)
    return int((var > threshold).sum()), var


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: TensorData, *, k: int = 5000, batch_size: int | None = None,
             seed: int = 0, limit: int | None = None, progress: bool = True, compile: bool = True,
             unit: Unit | str | None = "auto") -> dict[str, Any]:
    """Test metrics of `model` on `data`, in nats per data point, and in the data's per-item unit where it
    has one (`unit`; "auto": `unit_of(model, data)`, e.g. bits_per_dim and elbo_bits_per_dim).

    elbo:           E_q[log p(x|z)] (averaged over the k draws) - KL(q||p) (closed form where valid)
    log_likelihood: log (1/k) Σ_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x)  (a stochastic lower bound)
    mutual_information: I_q(x; z) over the whole set (`information.mutual_information`) of the bottom
                    stochastic layer's q(z_1|x) (`bottom_posterior`), its draws seeded by `seed`

    The draws come from the global RNG seeded with `sampling_seed(seed)` inside `fork_rng` (the caller's
    RNG state is restored), so the compiled and the eager paths are both reproducible; dynamically
    binarized data take one fixed draw for `seed`. k samples go through the decoder as many at a time as
    keep a pass under `objectives.MAX_PASS_BYTES`. `limit`: evaluate that many items drawn at random
    (seeded by `seed`, `vaekit.data.random_items`) instead of all.
    """
    model.eval()
    if getattr(getattr(model, "encoder", None), "is_prior", False) and \
            getattr(getattr(model, "decoder", None), "ignores_latent", False):
        k = 1  # a language model: w = p(x) p(z) / q(z) = p(x) for every z ~ q = p, so one draw is exact
    data = fixed_binarization(data, seed)  # dynamically binarized data: one fixed draw, as is the protocol
    data = random_items(data, limit, seed)
    bs = batch_size or max(1, min(len(data), 100 if k > 1 else 1000))
    chunk = samples_per_pass(model, bs, k)
    compile = compile and kind_of_data(data).compiles  # one graph per batch shape: fixed-shape items only
    # compiled log-weights: measured 1.5x faster at k = 5000 (fused likelihood and sums); see docs/benchmarks.md
    options = None
    if compile:  # loads torch._inductor, so only when compiling
        from vaekit.fast.compiling import sampling_options

        options = sampling_options()
    weights_fn = CompiledOrEager(functools.partial(_log_weights, model), enabled=compile, options=options)
    totals: dict[str, Any] = {"elbo": 0.0, "log_likelihood": 0.0, "kl": 0.0, "means": [], "q": []}
    bar = tqdm(total=len(data), desc=f"evaluate k={k}", unit="x", disable=not progress, leave=False)
    device = next(model.parameters()).device
    rng = torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
    with rng, denormals.flush_denormals(device.type == "cpu"):  # see vaekit.fast.denormals
        torch.manual_seed(sampling_seed(seed))
        for x, labels in iterate_batches(data, bs, shuffle=False, generator=torch.Generator().manual_seed(seed)):
            y = labels.to(device) if getattr(model, "n_classes", 0) else None  # log p(x|y) of a conditional model
            _evaluate_batch(model, x.to(device), y, k, chunk, weights_fn, totals)
            bar.update(len(x))
    bar.close()
    res = _summary(model, data, k, totals, unit_of(model, data) if unit == "auto" else unit)
    res["mutual_information"] = _information(totals["q"], seed)
    return res


def _log_weights(model: torch.nn.Module, x: torch.Tensor, n: int, context: Any,
                 y: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    return log_weights(model, x, n, None, context, y)


def _evaluate_batch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, k: int, chunk: int,
                    weights_fn: Any, totals: dict[str, Any]) -> None:
    context = model.bottom_up(x, y)
    terms = iwae_bound(model, x, k, chunk=chunk, context=context, weights_fn=weights_fn, y=y)
    kl = torch.cat([layer_kl(layer) for layer in model(x, 1, context=context, y=y).latents], -1)  # (B, ΣD)
    totals["elbo"] += float((-terms.distortion - kl.sum(-1)).double().sum())
    totals["log_likelihood"] += float(terms.elbo.double().sum())
    totals["kl"] = totals["kl"] + kl.double().sum(0)
    totals["means"].append([m.cpu() for m in posterior_means(model, context)])
    q = bottom_posterior(model, x, context)
    totals["q"].append((q.mean.cpu(), q.logvar.cpu()))


def posterior_means(model: torch.nn.Module, context: Any) -> list[torch.Tensor]:
    """E_q[z_l|x] of every stochastic layer, bottom first, each (B, D_l), from the encoder pass `context`.
    A hierarchy gives each layer's q mean with the layers it is conditioned on at their own means
    (`HierarchicalVAE.layer_means`); one layer: the mean of q(z|x) itself."""
    layer_means = getattr(model, "layer_means", None)
    return layer_means(context) if layer_means is not None else [context.mean]


def bottom_posterior(model: torch.nn.Module, x: torch.Tensor, context: Any = None,
                     y: torch.Tensor | None = None) -> DiagonalGaussian:
    """q(z_1|x) of the bottom stochastic layer, (B, D_1): the encoder pass `context` itself for one layer;
    for a hierarchy, `posterior(x)` (top-down inference: with the layers above at their means, as
    `posterior_means` takes them)."""
    if context is None:
        context = model.bottom_up(x, y)
    return context if isinstance(context, DiagonalGaussian) else model.posterior(x)


def _information(q: list[tuple[torch.Tensor, torch.Tensor]], seed: int) -> float:
    mean, logvar = (torch.cat(parts) for parts in zip(*q, strict=True))  # (N, D_1) each
    return mutual_information(mean, logvar, torch.Generator().manual_seed(sampling_seed(seed, child=2)))


@torch.no_grad()
def validation_information(model: torch.nn.Module, data: TensorData, *, batch_size: int = 1000,
                           seed: int = 0) -> float:
    """I_q(x; z) of the bottom layer over a data set in one pass of the encoder (the per-epoch number of
    aggressive training, `vaekit.training.aggressive`), computed as `evaluate` does without the decoder:
    the same figure for the same seed wherever the items are batched in their stored order (sentences
    are batched by length, so their draws fall to other items)."""
    model.eval()
    device = next(model.parameters()).device
    data = fixed_binarization(data, seed)
    q = []
    for x, labels in iterate_batches(data, batch_size, shuffle=False, generator=torch.Generator().manual_seed(seed)):
        y = labels.to(device) if getattr(model, "n_classes", 0) else None
        post = bottom_posterior(model, x.to(device), y=y)
        q.append((post.mean.cpu(), post.logvar.cpu()))
    return _information(q, seed)


def _summary(model: torch.nn.Module, data: Any, k: int, totals: dict[str, Any], unit: Unit | None
             ) -> dict[str, Any]:
    n = len(data)
    # Burda et al. (2015), sec. 5.2: units counted per stochastic layer
    counts, variances = zip(*(active_units(torch.cat(layer)) for layer in zip(*totals["means"], strict=True)),
                            strict=True)
    ll, e = totals["log_likelihood"] / n, totals["elbo"] / n
    res = {"elbo": e, "log_likelihood": ll, "nll": -ll, **in_unit(unit, "", ll), **in_unit(unit, "elbo_", e)}
    if unit is not None:
        res["unit"], res["unit_key"] = unit.name, unit.key
    return {
        **res,
        "active_units": sum(counts),
        "active_units_per_layer": list(counts),
        "latent_dim": sum(len(v) for v in variances),  # every layer's units: what active_units counts among
        "latent_dims": [len(v) for v in variances],
        "kl_per_dim": (totals["kl"] / n).tolist(),
        "posterior_mean_variance": torch.cat(variances).tolist(),
        "k": k,
        "n": n,
    }


@torch.no_grad()
def validation_elbo(model: torch.nn.Module, data: TensorData, *, batch_size: int = 1000,
                    seed: int = 0) -> dict[str, float]:
    """The single-sample ELBO and its terms over a data set (the per-epoch validation number), and the
    ELBO in the data's per-item unit where it has one (`unit_of`). ε from `sampling_seed(seed)`, the
    binarization of dynamically binarized data from `seed`."""
    from vaekit.objectives import elbo

    model.eval()
    device = next(model.parameters()).device
    data = fixed_binarization(data, seed)
    gen = torch.Generator(device=device).manual_seed(sampling_seed(seed))
    totals = torch.zeros(3, dtype=torch.float64)
    for x, labels in iterate_batches(data, batch_size, shuffle=False, generator=torch.Generator().manual_seed(seed)):
        y = labels.to(device) if getattr(model, "n_classes", 0) else None
        t = elbo(model, x.to(device), generator=gen, y=y)
        totals += torch.stack([t.elbo.sum(), t.rate.sum(), t.distortion.sum()]).double().cpu()
    e, r, d = (totals / len(data)).tolist()
    return {"elbo": e, "rate": r, "distortion": d, **in_unit(unit_of(model, data), "", e)}
