"""Content and motion swaps with a sequential VAE of videos (Li & Mandt 2018, "Disentangled Sequential
Autoencoder", Sec. 4): the static latent f holds what a video shows and z_1:T how it moves, so decoding f of
one video with z_1:T of another draws the first's content moving as the second moves. Codes are posterior
means, as `model.swap` takes them. Pictures only read the model; nothing trains here.

Both layouts are rows of videos with the donors' originals as headers (the corner, which has none, is blank:
white, the colour of the grid's padding):

    swap_grid(x_1..x_K)              input_swap_rows(u, x_1..x_K)
    .    x_1   x_2   ...             .    x_1         x_2         ...   (motions / contents of the partners)
    x_1  x_1   f1z2  ...             u    f(u)z(x_1)  f(u)z(x_2)  ...   u's content, the partners' motions
    x_2  f2z1  x_2   ...             u    f(x_1)z(u)  f(x_2)z(u)  ...   the partners' contents, u's motion
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import ConfigError
from vaekit.viz.common import decode, posterior_means

BLANK = 1.0  # the corner cell: the value of `images.grid.make_grid`'s padding, so it reads as empty


def can_swap(model: Any) -> bool:
    """Whether the model splits its latent into content f and motion z_1:T (a video model with `swap`)."""
    return callable(getattr(model, "swap", None)) and callable(getattr(model, "split_latent", None))


def has_content(model: Any) -> bool:
    """Whether the model can swap and has a static latent f to swap (not --static-dim 0 or --model frames)."""
    return can_swap(model) and int(getattr(model, "static_dim", 0)) > 0


def check_swap(model: Any) -> None:
    """Refuse a model that has no content latent to swap, naming what would have one."""
    if not can_swap(model):
        raise ConfigError("this model does not split content from motion: swapping needs a video model "
                          "(--model dsae)")
    if not has_content(model):
        raise ConfigError("this video model has no static latent f (--static-dim 0 or --model frames): there is no "
                          "content to swap; train --model dsae with --static-dim > 0")


@torch.no_grad()
def swapped(model: Any, contents: torch.Tensor, motions: torch.Tensor) -> torch.Tensor:
    """Every pair: f of contents[i] with z_1:T of motions[j], decoded at the posterior means. Videos (A, *event)
    and (B, *event) -> (A, B, *event) on the CPU; cell (i, j) equals `model.swap(contents[i], motions[j])`."""
    check_swap(model)
    f = model.split_latent(posterior_means(model, contents))[0]   # (A, static_dim)
    zs = model.split_latent(posterior_means(model, motions))[1]   # (B, T, latent_dim)
    a, b = len(f), len(zs)
    f_ab = f[:, None].expand(a, b, *f.shape[1:]).reshape(a * b, *f.shape[1:])      # (A*B, static_dim)
    zs_ab = zs[None].expand(a, b, *zs.shape[1:]).reshape(a * b, *zs.shape[1:])     # (A*B, T, latent_dim)
    videos = decode(model, model.join_latent(f_ab, zs_ab))                         # (A*B, *event)
    return videos.reshape(a, b, *videos.shape[1:])                                 # (A, B, *event)


def _with_headers(cells: torch.Tensor, left: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """Cells (R, K, *event) under a header row `top` (K, *event), each row after its header `left` (R, *event):
    (R + 1, K + 1, *event)."""
    corner = torch.full_like(top[:1], BLANK)
    head = torch.cat([corner, top])[None]                      # (1, K + 1, *event)
    body = torch.cat([left[:, None], cells], dim=1)            # (R, K + 1, *event)
    return torch.cat([head, body])


def swap_grid(model: Any, x: torch.Tensor) -> torch.Tensor:
    """K videos (K, *event) -> (K + 1, K + 1, *event): row i + 1 the content of video i, column j + 1 the motion
    of video j, the diagonal their reconstructions, and the originals as the first row and column."""
    x = x.detach().float().cpu()
    return _with_headers(swapped(model, x, x), x, x)


def input_swap_rows(model: Any, inputs: torch.Tensor, partners: torch.Tensor) -> torch.Tensor:
    """Videos of a user's (N, *event) against K partners (K, *event) -> (1 + 2N, K + 1, *event): under the
    partners' originals, for each input a row of its content in the partners' motions, then a row of the
    partners' contents in its motion; each row starts with the input."""
    inputs, partners = inputs.detach().float().cpu(), partners.detach().float().cpu()
    as_content = swapped(model, inputs, partners)                  # (N, K, *event)
    as_motion = swapped(model, partners, inputs).transpose(0, 1)   # (N, K, *event): partner k, input's motion
    cells = torch.stack([as_content, as_motion], 1).flatten(0, 1)  # (2N, K, *event): the two rows of each input
    return _with_headers(cells, inputs.repeat_interleave(2, 0), partners)


PARTS = ("all", "content", "motion")


@torch.no_grad()
def interpolate_part(model: Any, x0: torch.Tensor, x1: torch.Tensor, steps: int, mode: str, part: str
                     ) -> torch.Tensor:
    """Decoded paths between paired videos x0, x1 (P, *event) -> (P, steps, *event) along one part of the code:
    "content" moves f from x0's to x1's while x0's motion z_1:T stays (x0's motion, x1's content at the end);
    "motion" moves z_1:T while x0's f stays. Codes are posterior means; `mode` linear or slerp, as
    `viz.interpolate.interpolate` (slerp over the moving part's coordinates)."""
    from vaekit.viz.interpolate import interpolate

    if part not in PARTS[1:]:
        raise ConfigError(f"--part {part!r}: a video model interpolates its content or its motion alone")
    check_swap(model)
    (f0, zs0), (f1, zs1) = (model.split_latent(posterior_means(model, x)) for x in (x0, x1))
    p = len(f0)
    if part == "content":
        f = interpolate(f0, f1, steps, mode)                                    # (P, steps, S)
        zs = zs0[:, None].expand(p, steps, *zs0.shape[1:])                      # (P, steps, T, D)
    else:
        zs = interpolate(zs0.flatten(1), zs1.flatten(1), steps, mode).view(p, steps, *zs0.shape[1:])
        f = f0[:, None].expand(p, steps, f0.shape[-1])
    videos = decode(model, model.join_latent(f, zs).flatten(0, 1))              # (P steps, *event)
    return videos.view(p, steps, *videos.shape[1:])
