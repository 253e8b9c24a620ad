"""Interpolation in latent space: decode the path between two codes to see whether the decoder is
smooth between the points it was trained on.

Two sources of endpoints: real inputs, encoded to their posterior means E_q[z|x] (so the first and
last columns are the reconstructions of the two inputs), and draws from the prior z ~ p(z).
Two paths: linear, z(t) = (1 - t) z0 + t z1, and spherical (slerp; Shoemake 1985), which follows the
great circle between the two codes. Under a Gaussian prior in D dimensions almost all mass lies near
the sphere of radius sqrt(D), and the midpoint of a linear path between two prior draws has norm about
sqrt(D/2), a region the decoder rarely saw; slerp keeps the norm (White 2016, "Sampling Generative
Networks"). Kingma & Welling (2013) show the latent manifold (Fig. 4) rather than paths; see manifold.py.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import ConfigError
from vaekit.viz.common import decode, model_device, posterior_means

MODES = ("linear", "slerp")


def _as_t(t: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """t as a tensor that broadcasts over the code's last dimension: (T, 1, ..., 1) or a scalar."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    return t.reshape(*t.shape, *([1] * like.dim())) if t.dim() else t


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Linear interpolation (1 - t) z0 + t z1 (exactly z0 at t = 0 and z1 at t = 1).

    z0, z1: (..., D); t: a number, giving (..., D), or a (T,) tensor, giving (T, ..., D)."""
    tt = _as_t(t, z0)
    return (1 - tt) * z0 + tt * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation: sin((1 - t) w) / sin w z0 + sin(t w) / sin w z1, w the angle between z0 and z1.

    The path is the arc in the plane of z0 and z1; its norm stays constant when |z0| = |z1|. Where w
    is below `eps` or within `eps` of pi (parallel or opposite codes, where the great circle is
    undefined) the path falls back to lerp. Shapes as in `lerp`."""
    tt = _as_t(t, z0)
    n0 = z0.norm(dim=-1, keepdim=True)  # (..., 1)
    n1 = z1.norm(dim=-1, keepdim=True)
    cos = ((z0 * z1).sum(-1, keepdim=True) / (n0 * n1).clamp_min(1e-12)).clamp(-1, 1)
    omega = torch.arccos(cos)  # (..., 1), in [0, pi]
    sin = torch.sin(omega)
    degenerate = (omega < eps) | (omega > torch.pi - eps) | (n0 * n1 < 1e-12)
    safe_sin = torch.where(degenerate, torch.ones_like(sin), sin)
    spherical = (torch.sin((1 - tt) * omega) * z0 + torch.sin(tt * omega) * z1) / safe_sin
    return torch.where(degenerate, lerp(z0, z1, t), spherical)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, mode: str = "slerp") -> torch.Tensor:
    """`steps` codes from z0 to z1 (both included) for each pair: z0, z1 (P, D) -> (P, steps, D)."""
    check_steps(steps)
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r} must be one of {', '.join(MODES)}")
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)  # (T,)
    path = (lerp if mode == "linear" else slerp)(z0, z1, t)  # (T, P, D)
    return path.transpose(0, 1)  # (P, T, D)


def interpolate_inputs(model: Any, x0: torch.Tensor, x1: torch.Tensor, steps: int = 10, mode: str = "slerp"
                       ) -> torch.Tensor:
    """Decoded paths between the posterior means of paired inputs: x0, x1 (P, *event) -> (P, steps, *event).

    A single item (without the batch dimension) is one pair. Column 0 is `model.reconstruct(x0)`,
    the last column `model.reconstruct(x1)`."""
    event = tuple(model.event_shape)
    if tuple(x0.shape) == event:
        x0, x1 = x0.unsqueeze(0), x1.unsqueeze(0)  # (1, *event)
    z = interpolate(posterior_means(model, x0), posterior_means(model, x1), steps, mode)  # (P, T, D)
    return decode(model, z)


def interpolate_prior(model: Any, pairs: int, steps: int = 10, mode: str = "slerp", seed: int = 0
                      ) -> torch.Tensor:
    """Decoded paths between pairs of draws from the generative model's p(z): (pairs, steps, *event).

    For a hierarchical model the endpoints are ancestral draws of the layer the decoder reads."""
    check_count(pairs, "--pairs")
    gen = torch.Generator(device=model_device(model)).manual_seed(seed)
    z = model.prior_sample(2 * pairs, generator=gen)  # (2P, D)
    return decode(model, interpolate(z[:pairs], z[pairs:], steps, mode))  # (P, T, *event)


def choose_pairs(n_items: int, pairs: int = 4, indices: list[int] | None = None, seed: int = 0
                 ) -> list[tuple[int, int]]:
    """Which items to join: consecutive `indices` taken two by two (I,J,K,L -> (I,J), (K,L)), or
    `pairs` pairs of distinct items drawn at random with `seed`."""
    if indices:
        if len(indices) % 2:
            raise ConfigError(f"--indices takes pairs I,J[,K,L...]: got {len(indices)} numbers")
        for i in indices:
            if not 0 <= i < n_items:
                raise ConfigError(f"--indices {i} is out of range: the split has {n_items} items (0..{n_items - 1})")
        return list(zip(indices[::2], indices[1::2], strict=True))
    check_count(pairs, "--pairs")
    if n_items < 2:
        raise ConfigError(f"interpolating between inputs needs at least 2 items; the split has {n_items}")
    gen = torch.Generator().manual_seed(seed)
    picks = [torch.randperm(n_items, generator=gen)[:2].tolist() for _ in range(pairs)]
    return [(a, b) for a, b in picks]


def check_steps(steps: int) -> None:
    if steps < 2:
        raise ConfigError(f"--steps {steps} must be >= 2 (the two endpoints)")


def check_count(n: int, option: str) -> None:
    if n < 1:
        raise ConfigError(f"{option} {n} must be >= 1")

