"""Content and motion in the explorer, for a video model whose latent is [f, z_1 .. z_T] (Li & Mandt 2018): the
page holds a content code f (its sliders) and a motion code z_1:T (a test video's, an upload's or a prior
draw's), shifts every z_t alike along a few sliders, and has the pair decoded. Codes come from the test videos'
posterior means (`code_answer`) or from the model's prior (`prior_answer`: f ~ p(f), z_t ~ p(z_t | z_<t)); the
page takes from each the half it wants, so content and motion are chosen apart. The videos themselves are
shown and played as the run's kind makes them (`Kind.item_media`: a frame strip and a GIF)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from vaekit.explore.state import SLIDER_HALF_RANGE, ExplorerState, RequestError
from vaekit.viz.swap import can_swap

MAX_ABS = 1000.0  # a code value beyond this is refused: no slider reaches it, and the decoder's output is noise


def has_motion(state: ExplorerState) -> bool:
    """Whether the run's model splits its latent into content f and motion z_1:T (a video model)."""
    return can_swap(state.model)


def _check_video(state: ExplorerState) -> None:
    if not has_motion(state):
        raise RequestError("this run's model has no content and motion latents (a video model has): use "
                           "POST /api/decode", 404)


def _split(state: ExplorerState, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return state.model.split_latent(z.to(state.device))


def shift_ranges(state: ExplorerState) -> list[list[float]]:
    """(D, 2) limits of the motion sliders, which add one value to z_t[d] at every frame t: ±SLIDER_HALF_RANGE
    standard deviations of the test posterior means of z_t[d] (over videos and frames), rounded out to 0.5."""
    zs = _split(state, state.means)[1].cpu()  # (N, T, D)
    spread = zs.reshape(-1, zs.shape[-1]).std(0, unbiased=False)  # (D,)
    half = torch.ceil(SLIDER_HALF_RANGE * spread.clamp_min(1 / 6) * 2) / 2
    return torch.stack([-half, half], 1).tolist()


def sizes(state: ExplorerState) -> tuple[int, int, int]:
    """S (the size of f), T (frames) and D (the size of each z_t)."""
    _check_video(state)
    m = state.model
    return int(m.static_dim), int(m.frames), int(m.frame_dim)


def video_info(state: ExplorerState) -> dict[str, Any]:
    """What the page needs to lay out the content and motion controls: the sizes of f, T and z_t, and the
    ranges of the shift sliders (the content sliders take the ranges of f's dimensions in /api/info)."""
    s, t, d = sizes(state)
    return {"static_dim": s, "frames": t, "frame_dim": d, "shift_ranges": shift_ranges(state)}


def _codes(state: ExplorerState, z: torch.Tensor) -> dict[str, Any]:
    f, zs = _split(state, z)
    return {"f": f.cpu().tolist(), "zs": zs.cpu().tolist()}


def code_answer(state: ExplorerState, i: int) -> dict[str, Any]:
    """Test video i's posterior mean, split: its content f (S,) and its motion z_1:T (T, D)."""
    _check_video(state)
    return {"index": i, **_codes(state, state.means[state.check_index(i)])}


def prior_answer(state: ExplorerState, seed: int) -> dict[str, Any]:
    """One draw of the model's prior, split: f ~ p(f) and z_1:T from p(z_t | z_<t), seeded so a draw can be
    had again."""
    _check_video(state)
    generator = torch.Generator(device=state.device).manual_seed(seed)
    with state.lock, torch.no_grad():
        z = state.model.prior_sample(1, generator)[0]
    return {"seed": seed, **_codes(state, z)}


def check_values(values: Sequence[Any], shape: tuple[int, ...], name: str) -> torch.Tensor:
    """A code from a request: `shape` (nested lists), every value finite and within ±MAX_ABS."""
    try:
        x = torch.tensor(values, dtype=torch.float64)
    except (TypeError, ValueError):
        raise RequestError(f"{name} must be numbers of shape {list(shape)}") from None
    if tuple(x.shape) != shape:
        raise RequestError(f"{name} has shape {list(x.shape)}; this model takes {list(shape)}")
    bad = [v for v in x.flatten().tolist() if not (math.isfinite(v) and abs(v) <= MAX_ABS)]
    if bad:
        raise RequestError(f"{name} holds {bad[0]}: every value must be a finite number within ±{MAX_ABS:g}")
    return x.float()


def decode_answer(state: ExplorerState, f: Sequence[float], zs: Sequence[Sequence[float]],
                  shift: Sequence[float] | None = None) -> dict[str, Any]:
    """The video of content f (S,) and motion z_1:T (T, D), every z_t shifted by `shift` (D,), as the page
    shows and plays it, with the flat code and its place on the map."""
    s, t, d = sizes(state)
    f_ = check_values(f, (s,), "f")
    zs_ = check_values(zs, (t, d), "zs")
    shift_ = torch.zeros(d) if shift is None else check_values(shift, (d,), "shift")
    z = state.model.join_latent(f_.to(state.device), (zs_ + shift_).to(state.device)).cpu()  # (S + T D,)
    return {**state.media_of(state.decode_item(z)[None])[0], "z": z.tolist(), "point": state.point(z)}
