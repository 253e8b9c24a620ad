"""Learnable priors p(z): a mixture of Gaussians and the VampPrior (Tomczak & Welling 2018).

Both are nn.Modules so that their parameters train with the VAE (they appear in its state_dict
under `prior.`). Like `StandardNormal`, each has `dim`, `event_dims = 1`,
`log_prob(z) -> (...)` summed over the last (latent) dimension for any leading shape, and
`sample(n, generator, device, dtype) -> (n, dim)`.

Neither factorises over latent dimensions, so neither has `log_prob_per_dim` nor a closed-form
KL: `objectives.layer_kl` falls back to the Monte-Carlo estimate log q(z|x) - log p(z) at the
posterior draws (SGVB estimator A, Kingma & Welling 2013, eq. 6), reported as one (B, 1) column.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from vaekit.distributions.gaussian import LOG_2PI, DiagonalGaussian

# Elements of the (chunk, K, D) broadcast evaluated at once: 2**22 float32 = 16 MiB per temporary.
DEFAULT_MAX_ELEMENTS = 2**22


def _mixture_chunk(z: torch.Tensor, means: torch.Tensor, inv_var: torch.Tensor,
                   log_const: torch.Tensor) -> torch.Tensor:
    """logsumexp_k [c_k - 1/2 Σ_d (z_d - μ_kd)² / σ²_kd] for z (N, D) against K components: (N,)."""
    diff = z.unsqueeze(-2) - means  # (N, 1, D) - (K, D) -> (N, K, D)
    maha = (diff * diff * inv_var).sum(-1)  # (N, K)
    return torch.logsumexp(log_const - 0.5 * maha, dim=-1)  # (N,)


def _mixture_matmul(z: torch.Tensor, means: torch.Tensor, inv_var: torch.Tensor,
                    log_const: torch.Tensor) -> torch.Tensor:
    """`_mixture_chunk` by one matmul: Σ_d (z_d - μ_kd)² / σ²_kd = [z², z] · [1/σ²_k, -2 μ_k/σ²_k] + Σ_d μ²_kd/σ²_kd.
    The expanded square cancels (terms up to ~1e6 for narrow components), so it runs in float64,
    where the cancellation costs ~1e-10 nats. z (N, D): (N,) in z's dtype."""
    zd, md, iv = z.double(), means.double(), inv_var.double()
    features = torch.cat([zd * zd, zd], -1)                               # (N, 2D)
    coef = torch.cat([iv, -2 * md * iv], -1)                              # (K, 2D)
    maha = features @ coef.t() + (md * md * iv).sum(-1)                   # (N, K)
    return torch.logsumexp(log_const.double() - 0.5 * maha, dim=-1).to(z.dtype)  # (N,)


def gaussian_mixture_log_prob(z: torch.Tensor, means: torch.Tensor, logvars: torch.Tensor,
                              log_weights: torch.Tensor, max_elements: int = DEFAULT_MAX_ELEMENTS) -> torch.Tensor:
    """log Σ_k w_k N(z; μ_k, diag σ²_k) for z (..., D), means/logvars (K, D), log_weights (K,): (...).

    With gradients: computed exactly (no expansion of the square, so no cancellation) as a logsumexp
    over the broadcast (N, K, D), N = prod(leading shape), in chunks of at most `max_elements`
    elements. Memory: a chunk holds ~3 temporaries of chunk·K·D floats (3 x 16 MiB at the default);
    when there is more than one chunk, each chunk is checkpointed, so backward keeps only z, the
    (K, D) parameters and the (N,) outputs, and recomputes one chunk at a time. Unchunked, S·B = 10^4
    draws against K = 1000, D = 32 would need ~3 x 1.3 GB.
    Without gradients (evaluation: 5e7 draws at k = 5000): one float64 matmul per chunk of rows
    (`_mixture_matmul`), about D times fewer passes over memory than the broadcast.
    """
    lead, d = z.shape[:-1], z.shape[-1]
    k = means.shape[0]
    z2 = z.reshape(-1, d)  # (N, D)
    inv_var = torch.exp(-logvars)  # (K, D)
    log_const = log_weights - 0.5 * (d * LOG_2PI + logvars.sum(-1))  # (K,): log w_k + log normaliser
    tensors = (z2, means, inv_var, log_const)
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    kernel = _mixture_chunk if needs_grad else _mixture_matmul
    chunk = max(1, max_elements // max(1, k * (d if needs_grad else 2)))  # rows: (chunk, K, D) or (chunk, K) f64
    if z2.shape[0] <= chunk:
        return kernel(z2, means, inv_var, log_const).view(lead)
    parts = []
    for start in range(0, z2.shape[0], chunk):
        zc = z2[start:start + chunk]  # (chunk, D)
        if needs_grad:
            parts.append(checkpoint(_mixture_chunk, zc, means, inv_var, log_const, use_reentrant=False))
        else:
            parts.append(_mixture_matmul(zc, means, inv_var, log_const))
    return torch.cat(parts).view(lead)  # (N,) -> (...)


def _sample_mixture(n: int, log_weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor,
                    generator: torch.Generator | None) -> torch.Tensor:
    """Ancestral draw: k ~ Cat(w), z = μ_k + σ_k ε. Draws on the parameters' device: (n, D)."""
    idx = torch.multinomial(log_weights.softmax(-1), n, replacement=True, generator=generator)  # (n,)
    eps = torch.randn((n, means.shape[-1]), generator=generator, device=means.device, dtype=means.dtype)
    return means[idx] + stds[idx] * eps  # (n, D)


class MixtureOfGaussiansPrior(nn.Module):
    """p(z) = Σ_k π_k N(z; μ_k, diag σ²_k) with learnable means, log-variances and mixture logits.

    log p(z) = logsumexp_k [log π_k + log N(z; μ_k, σ²_k)], π = softmax(logits).
    Init: μ ~ N(0, 1)·init_scale (spread so the components differ), log σ² = 0, logits = 0.
    """

    event_dims = 1

    def __init__(self, dim: int, n_components: int, *, init_scale: float = 1.0,
                 generator: torch.Generator | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        super().__init__()
        if dim < 1 or n_components < 1:
            raise ValueError(f"need dim >= 1 and n_components >= 1, got {dim}, {n_components}")
        self.dim = dim
        self.n_components = n_components
        self.max_elements = max_elements
        self.means = nn.Parameter(torch.randn((n_components, dim), generator=generator) * init_scale)
        self.logvars = nn.Parameter(torch.zeros(n_components, dim))
        self.logits = nn.Parameter(torch.zeros(n_components))

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) for z (..., D): (...)."""
        return gaussian_mixture_log_prob(z, self.means, self.logvars, self.logits.log_softmax(-1),
                                         self.max_elements)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """n ancestral draws (not reparameterised), (n, D) on `device`; `generator` must live on the
        parameters' device."""
        z = _sample_mixture(n, self.logits.log_softmax(-1), self.means, torch.exp(0.5 * self.logvars), generator)
        return z.to(device=device, dtype=dtype)


PosteriorFn = Callable[[torch.Tensor], DiagonalGaussian]


class VampPrior(nn.Module):
    """The VampPrior (Tomczak & Welling 2018, eq. 9): p(z) = (1/K) Σ_k q(z | u_k), a uniform mixture
    of the VAE's own posteriors at K learnable pseudo-inputs u_k of the data's event shape.

    Pseudo-inputs: with `data_range = (lo, hi)` (default (0, 1), the range of vaekit's image data)
    they are u = lo + (hi - lo)·sigmoid(r) for an unconstrained parameter r (`pseudo_raw`), so they
    always lie inside the data range. The paper clamps with hardtanh instead; we use the sigmoid
    because hardtanh has zero gradient outside [lo, hi], so a pixel pushed (or initialised, e.g. a
    0 pixel plus noise) below lo never comes back. `data_range=None`: u = r, unconstrained.
    Init: `init[:K]` (training items, cycled if fewer than K) plus N(0, noise_std²) noise, kept
    inside the range; without `init`, uniform noise over the range ([0, 1) when unconstrained).

    The encoder is supplied by `bind(posterior_fn)`, `posterior_fn(x) -> DiagonalGaussian` with
    (K, D) parameters, e.g. `prior.bind(vae.posterior)`. It is stored as a plain attribute (not
    a submodule: its parameters stay the VAE's, not duplicated in the prior's state_dict), so:
    - `copy.deepcopy(vae)` re-binds the copy's prior to the copy's `posterior` (a bound method's
      `__self__` is deep-copied through the memo), no action needed;
    - deep-copying the prior alone copies the whole bound encoder owner with it;
    - a prior built fresh or loaded from a state_dict must be bound again.
    """

    event_dims = 1

    def __init__(self, dim: int, n_components: int, event_shape: tuple[int, ...], init: torch.Tensor | None = None,
                 *, data_range: tuple[float, float] | None = (0.0, 1.0), noise_std: float = 0.01,
                 generator: torch.Generator | None = None, max_elements: int = DEFAULT_MAX_ELEMENTS) -> None:
        super().__init__()
        if dim < 1 or n_components < 1:
            raise ValueError(f"need dim >= 1 and n_components >= 1, got {dim}, {n_components}")
        if data_range is not None and not data_range[0] < data_range[1]:
            raise ValueError(f"data_range must be (lo, hi) with lo < hi, got {data_range}")
        self.dim = dim
        self.n_components = n_components
        self.event_shape = tuple(event_shape)
        self.data_range = data_range
        self.max_elements = max_elements
        u0 = self._initial_pseudo_inputs(init, noise_std, generator)  # (K, *event)
        self.pseudo_raw = nn.Parameter(self._to_raw(u0))
        object.__setattr__(self, "_posterior_fn", None)  # bypasses nn.Module registration

    def _initial_pseudo_inputs(self, init: torch.Tensor | None, noise_std: float,
                               generator: torch.Generator | None) -> torch.Tensor:
        k, shape = self.n_components, (self.n_components, *self.event_shape)
        lo, hi = self.data_range if self.data_range is not None else (0.0, 1.0)
        if init is None:
            return lo + (hi - lo) * torch.rand(shape, generator=generator)
        init = init.detach().to(device="cpu", dtype=torch.float32)
        if tuple(init.shape[1:]) != self.event_shape or init.shape[0] == 0:
            raise ValueError(f"init must be (N, *{self.event_shape}) with N >= 1, got {tuple(init.shape)}")
        reps = math.ceil(k / init.shape[0])
        u = init.repeat(reps, *([1] * len(self.event_shape)))[:k]  # (K, *event)
        return u + noise_std * torch.randn(shape, generator=generator)

    def _to_raw(self, u: torch.Tensor) -> torch.Tensor:
        if self.data_range is None:
            return u.clone()
        lo, hi = self.data_range
        p = ((u - lo) / (hi - lo)).clamp(1e-3, 1 - 1e-3)  # keep logit finite, gradients alive
        return torch.logit(p)

    @property
    def pseudo_inputs(self) -> torch.Tensor:
        """u_k, (K, *event_shape), inside data_range."""
        if self.data_range is None:
            return self.pseudo_raw
        lo, hi = self.data_range
        return lo + (hi - lo) * torch.sigmoid(self.pseudo_raw)

    def bind(self, posterior_fn: PosteriorFn) -> VampPrior:
        """Use `posterior_fn` (the VAE's q(z|x)) as the encoder of the pseudo-inputs. Returns self."""
        object.__setattr__(self, "_posterior_fn", posterior_fn)
        return self

    def components(self) -> DiagonalGaussian:
        """q(z | u_k) for all k: a DiagonalGaussian with (K, D) mean and log-variance."""
        fn = self._posterior_fn
        if fn is None:
            raise RuntimeError("VampPrior is not bound to an encoder: call prior.bind(vae.posterior) "
                               "after building (or loading) the model")
        q = fn(self.pseudo_inputs)
        if tuple(q.mean.shape) != (self.n_components, self.dim):
            raise RuntimeError(f"posterior_fn returned mean of shape {tuple(q.mean.shape)}, "
                               f"expected (K, D) = ({self.n_components}, {self.dim})")
        return q

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) = logsumexp_k log q(z | u_k) - log K for z (..., D): (...)."""
        q = self.components()
        log_w = torch.full((self.n_components,), -math.log(self.n_components), device=q.mean.device,
                           dtype=q.mean.dtype)
        return gaussian_mixture_log_prob(z, q.mean, q.logvar, log_w, self.max_elements)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """n draws: k ~ U{1..K}, z ~ q(z | u_k); (n, D) on `device`. `generator` must live on the
        pseudo-inputs' device."""
        q = self.components()
        log_w = torch.zeros(self.n_components, device=q.mean.device, dtype=q.mean.dtype)
        return _sample_mixture(n, log_w, q.mean, q.std, generator).to(device=device, dtype=dtype)
