"""Discretized logistic likelihoods for 8-bit data scaled to [0, 1] (pixel value v/255), after
Salimans et al. (2017), PixelCNN++ §2.1, eq. 2:

    P(x | μ, s) = σ((x + h - μ)/s) - σ((x - h - μ)/s),   h = 1/(2·255) (half a bin),

(bin edges computed as (v ± 1/2)/255 from the level v = round(255 x)),
with the lowest bin (x = 0) integrating from -∞ (P = σ((h - μ)/s)) and the highest (x = 1)
to +∞ (P = 1 - σ((1 - h - μ)/s)), so the 256 probabilities sum to 1.

Stability: with a = (x - h - μ)/s < b = (x + h - μ)/s, the CDF difference is rewritten exactly as

    σ(b) - σ(a) = σ(b)·σ(-a)·(1 - e^{a-b})
    log P       = logsigmoid(b) + logsigmoid(-a) + log(-expm1(a - b)),

a sum of terms that are each accurate in float32 wherever the bin is (far in either tail, or at a
huge scale where a - b -> 0^-). This replaces PixelCNN++'s two patches (log of a clamped
difference, and the mid-point density log pdf(x) + log(2h) when the difference is < 1e-5): the
identity has no cancellation, so no threshold is needed (the mid-point rule is its limit for a
narrow bin). Edge bins use logsigmoid(b) and logsigmoid(-a) = -softplus(a).

Layout: a mixture's component axis sits just before the event dimensions, e.g. (..., M, C, H, W).
Sub-pixels are independent (each has its own mixture weights): PixelCNN++'s shared-across-RGB
mixture indicator and linear channel-autoregressive means are not implemented.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 256
BIN = 1.0 / (LEVELS - 1)  # width of a bin in [0, 1] units
HALF = 0.5 * BIN


def _sum_event(t: torch.Tensor, event_dims: int) -> torch.Tensor:
    # t.sum(dim=()) would sum over everything, so event_dims = 0 is the identity.
    return t.sum(dim=tuple(range(-event_dims, 0))) if event_dims > 0 else t


def logistic_bin_log_prob(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(bin of x) per element (broadcast shape), for x on the grid {0, 1/255, ..., 1}.

    The bin edges are computed from the level index, (v ± 1/2)/255, not as x ± h: then the upper
    edge of bin v and the lower edge of bin v+1 are the same float, and the probabilities
    telescope to 1 even when s is far below float32's resolution of x - μ."""
    inv_s = torch.exp(-log_scale)
    level = torch.round(x * (LEVELS - 1))  # v in {0, ..., 255}
    a = inv_s * ((level - 0.5) * BIN - mean)  # lower bin edge, standardised
    b = inv_s * ((level + 0.5) * BIN - mean)  # upper bin edge, standardised
    lower_tail = F.logsigmoid(b)   # x = 0: P = σ(b)
    upper_tail = -F.softplus(a)    # x = 1: P = 1 - σ(a) = σ(-a)
    # interior: log(σ(b) - σ(a)) by the exact factorisation in the module docstring, with
    # a - b = -2h/s written out (not subtracted: no rounding when a and b are both huge).
    interior = F.logsigmoid(b) + upper_tail + torch.log(-torch.expm1(-BIN * inv_s))
    return torch.where(level < 0.5, lower_tail, torch.where(level > LEVELS - 1.5, upper_tail, interior))


def logistic_grid_mean(mean: torch.Tensor, log_scale: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """E[x] of the discretized logistic, exactly: E[x] = (1/255) Σ_{v=1}^{255} P(x ≥ v/255)
    = (1/255) Σ_v σ((μ - (v - 1/2)/255)/s). Thresholds go `chunk` at a time (memory: chunk x input)."""
    inv_s = torch.exp(-log_scale)
    shape = torch.broadcast_shapes(mean.shape, log_scale.shape)
    total = torch.zeros(shape, device=mean.device, dtype=mean.dtype)
    thresholds = (torch.arange(1, LEVELS, device=mean.device, dtype=mean.dtype) - 0.5) * BIN  # (255,)
    for start in range(0, LEVELS - 1, chunk):
        t = thresholds[start:start + chunk].view(-1, *([1] * len(shape)))  # (chunk, 1, ...)
        total = total + torch.sigmoid((mean - t) * inv_s).sum(0)
    return total * BIN


def invert_grid_mean(target: torch.Tensor, log_scale: float, offsets: torch.Tensor, iters: int = 40) -> torch.Tensor:
    """The shift μ0 such that an equal-weight mixture of discretized logistics with locations
    μ0 + offsets (M,) and log-scale `log_scale` has mean `target` (clamped into [1e-3, 1 - 1e-3],
    since the edges are reached only as μ0 -> ±∞). The mean is increasing in μ0: bisection."""
    target = target.clamp(1e-3, 1 - 1e-3)
    lo, hi = torch.full_like(target, -2.0), torch.full_like(target, 3.0)
    offsets = offsets.view(-1, *([1] * target.dim()))  # (M, 1, ...)
    log_s = torch.tensor(log_scale, device=target.device, dtype=target.dtype)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        too_low = logistic_grid_mean(mid + offsets, log_s).mean(0) < target  # (...)
        lo, hi = torch.where(too_low, mid, lo), torch.where(too_low, hi, mid)
    return 0.5 * (lo + hi)


def logistic_grid_sample(mean: torch.Tensor, log_scale: torch.Tensor,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverse-CDF draw y = μ + s·logit(u), u ~ U(0, 1), then rounded to the nearest of the 256
    levels (clamping first sends the tails to the edge bins, as the density does)."""
    shape = torch.broadcast_shapes(mean.shape, log_scale.shape)
    eps = torch.finfo(mean.dtype).eps
    u = torch.rand(shape, generator=generator, device=mean.device, dtype=mean.dtype).clamp(eps, 1 - eps)
    y = mean + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
    return torch.round(y.clamp(0.0, 1.0) * (LEVELS - 1)) * BIN


class DiscretizedLogistic:
    """Independent discretized logistics over the last `event_dims` dimensions of `mean`.

    `log_scale` broadcasts against `mean`; keep it within about ±80 (exp(∓log_scale) must stay
    finite and nonzero in float32) — the heads clamp it below at `min_log_scale` as PixelCNN++ does.
    """

    def __init__(self, mean: torch.Tensor, log_scale: torch.Tensor, event_dims: int) -> None:
        self.loc = mean
        self.log_scale = log_scale
        self.event_dims = event_dims

    @property
    def mean(self) -> torch.Tensor:
        """The mean of the discretized (hence edge-clipped) distribution, not the logistic's μ."""
        return logistic_grid_mean(self.loc, self.log_scale)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log P(x) summed over event dims; x on the 256-level grid in [0, 1]."""
        return _sum_event(logistic_bin_log_prob(x, self.loc, self.log_scale), self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        return logistic_grid_sample(self.loc, self.log_scale, generator)


class DiscretizedLogisticMixture:
    """Per sub-pixel mixture of M discretized logistics (PixelCNN++ eq. 2, independent channels).

    logit_probs, means, log_scales: (*batch, M, *event) — the mixture axis is dim
    -(event_dims + 1). log P(x) = Σ_event logsumexp_m [log π_m + log P_m(x)].
    """

    def __init__(self, logit_probs: torch.Tensor, means: torch.Tensor, log_scales: torch.Tensor,
                 event_dims: int) -> None:
        self.logit_probs = logit_probs
        self.locs = means
        self.log_scales = log_scales
        self.event_dims = event_dims
        self.mix_dim = -(event_dims + 1)

    @property
    def mean(self) -> torch.Tensor:
        """Σ_m π_m E_m[x], (*batch, *event)."""
        weights = self.logit_probs.softmax(self.mix_dim)
        return (weights * logistic_grid_mean(self.locs, self.log_scales)).sum(self.mix_dim)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., *event) broadcasting against the batch shape; returns (*batch)."""
        lp = logistic_bin_log_prob(x.unsqueeze(self.mix_dim), self.locs, self.log_scales)  # (*batch, M, *event)
        lp = torch.logsumexp(lp + self.logit_probs.log_softmax(self.mix_dim), dim=self.mix_dim)  # (*batch, *event)
        return _sum_event(lp, self.event_dims)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pick a component per sub-pixel (Gumbel-max), then draw from it: (*batch, *event)."""
        logits = self.logit_probs.expand(torch.broadcast_shapes(self.logit_probs.shape, self.locs.shape))
        u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
        fi = torch.finfo(logits.dtype)
        gumbel = -torch.log(-torch.log(u.clamp(fi.tiny, 1 - fi.eps)))  # -log(-log u) ~ Gumbel(0, 1)
        idx = (logits + gumbel).argmax(self.mix_dim, keepdim=True)  # (*batch, 1, *event)
        loc = torch.gather(self.locs.expand(logits.shape), self.mix_dim, idx).squeeze(self.mix_dim)
        log_s = torch.gather(self.log_scales.expand(logits.shape), self.mix_dim, idx).squeeze(self.mix_dim)
        return logistic_grid_sample(loc, log_s, generator)


class DiscretizedLogisticHead(nn.Module):
    """Decoder output (..., 2C, *rest) -> DiscretizedLogistic over event_shape = (C, *rest).

    Channel layout (parameter-major): channels [0, C) are the means μ, [C, 2C) the log-scales,
    clamped below at `min_log_scale`. Note the scale: PixelCNN++'s -7 is for data in [-1, 1]; here,
    with data in [0, 1] (bins half as wide), s = e^-7 is 0.47 of a bin, and the most mass one
    interior bin can get is σ(2.15) - σ(-2.15) = 0.79 (a floor of 0.23 nats per sub-pixel);
    -7.69 is PixelCNN++'s equivalent (0.973), -9 gives 1 - 2.5e-7. Edge bins reach 1 at any scale.
    """

    params_per_dim = 2
    levels = LEVELS  # a probability mass over the 256 values of 8-bit data (`evaluation.bits_per_dim_defined`)

    def __init__(self, event_shape: tuple[int, ...], min_log_scale: float = -7.0,
                 init_log_scale: float = -2.0) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.event_dims = len(event_shape)
        self.min_log_scale = min_log_scale
        self.init_log_scale = init_log_scale

    def forward(self, h: torch.Tensor) -> DiscretizedLogistic:
        p = h.unflatten(-self.event_dims, (2, self.event_shape[0]))  # (..., 2, C, *rest)
        pd = -self.event_dims - 1  # the parameter axis
        mean, log_scale = p.select(pd, 0), p.select(pd, 1)  # (..., C, *rest) each
        return DiscretizedLogistic(mean, log_scale.clamp(min=self.min_log_scale), self.event_dims)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """(2C, *rest) decoder output whose distribution has mean `mean` (event-shaped (C, *rest),
        clamped into [1e-3, 1 - 1e-3]): log s = init_log_scale (s ≈ 0.14 at -2, a broad start like
        the spread of pixel values) and μ solved so that the edge-clipped grid mean matches."""
        zero = torch.zeros(1, device=mean.device, dtype=mean.dtype)
        loc = invert_grid_mean(mean, self.init_log_scale, zero)
        return torch.cat([loc, torch.full_like(mean, self.init_log_scale)], dim=0)


class LogisticMixtureHead(nn.Module):
    """Decoder output (..., 3·M·C, *rest) -> DiscretizedLogisticMixture over event_shape = (C, *rest).

    Channel layout (parameter-major, then component, then data channel): the 3·M·C channels are
    viewed as (3, M, C): block 0 = mixture logits, block 1 = means, block 2 = log-scales (clamped
    below at `min_log_scale`); channel index = (param·M + m)·C + c.
    """

    levels = LEVELS  # a probability mass over the 256 values of 8-bit data

    def __init__(self, event_shape: tuple[int, ...], n_mix: int = 5, min_log_scale: float = -7.0,
                 init_log_scale: float = -2.0, init_spread: float = 0.05) -> None:
        super().__init__()
        self.event_shape = tuple(event_shape)
        self.event_dims = len(event_shape)
        self.n_mix = n_mix
        self.params_per_dim = 3 * n_mix
        self.min_log_scale = min_log_scale
        self.init_log_scale = init_log_scale
        self.init_spread = init_spread

    def forward(self, h: torch.Tensor) -> DiscretizedLogisticMixture:
        p = h.unflatten(-self.event_dims, (3, self.n_mix, self.event_shape[0]))  # (..., 3, M, C, *rest)
        pd = -self.event_dims - 2  # the parameter axis
        logits, means, log_scales = p.select(pd, 0), p.select(pd, 1), p.select(pd, 2)  # (..., M, C, *rest)
        return DiscretizedLogisticMixture(logits, means, log_scales.clamp(min=self.min_log_scale), self.event_dims)

    def params_for_mean(self, mean: torch.Tensor) -> torch.Tensor:
        """(3·M·C, *rest) decoder output whose mixture has mean `mean` (clamped into [1e-3, 1 - 1e-3]):
        equal weights, log-scales init_log_scale, and component locations μ0 + init_spread·linspace(-1, 1, M)
        (not identical, so the components can specialise), μ0 solved so that the mixture mean matches."""
        m = self.n_mix
        offsets = torch.linspace(-1.0, 1.0, m, device=mean.device, dtype=mean.dtype) if m > 1 \
            else torch.zeros(1, device=mean.device, dtype=mean.dtype)
        offsets = offsets * self.init_spread  # (M,)
        loc0 = invert_grid_mean(mean, self.init_log_scale, offsets)  # (C, *rest)
        means = loc0.unsqueeze(0) + offsets.view(m, *([1] * mean.dim()))  # (M, C, *rest)
        params = torch.stack([torch.zeros_like(means), means, torch.full_like(means, self.init_log_scale)])
        return params.flatten(0, 2)  # (3, M, C, *rest) -> (3·M·C, *rest)
