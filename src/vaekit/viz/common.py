"""What the picture modules share: items of a run's data split, their posterior means, decoding codes,
whether a run's items can be shown at all, and laying rows out for a grid.

Pictures show what the trained model does, so inputs are read in evaluation mode: dynamically
binarized data is frozen to one seeded draw (as `vaekit evaluate` does), and nothing trains.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.data import fixed_binarization
from vaekit.errors import ConfigError
from vaekit.kinds import load_split

ENCODE_BATCH = 500  # items per encoder pass: bounds memory on large splits


def load_items(run: Any, split: str = "test", limit: int | None = None, seed: int = 0) -> Any:
    """The first `limit` items (all when None) of a run's split, as a resident `TensorData`."""
    if split not in ("train", "val", "test"):
        raise ConfigError(f"--split {split!r} must be train, val or test")
    data = load_split(run.config.data, split, stats=run.data_stats)
    n = len(data) if limit is None else min(limit, len(data))
    return fixed_binarization(data.take(n), seed)


def shows(run: Any, data: Any = None) -> bool:
    """Whether a run's kind of data can show its items to a person (pictures for images, text for sentences;
    arrays have none)."""
    from vaekit.kinds import kind_of

    return kind_of(run.config.data.dataset).shows(tuple(run.model.event_shape), data)


@torch.no_grad()
def posteriors(model: Any, x: torch.Tensor, batch_size: int = ENCODE_BATCH, y: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and log-variances of q(z|x) for items x (N, *event), on the model's device: two (N, D) tensors.
    y: the items' labels, read only by a class-conditional model (q(z|x, y))."""
    device = model_device(model)
    y = y if getattr(model, "n_classes", 0) else None
    part = lambda t, i: None if t is None else t[i:i + batch_size].to(device)  # noqa: E731
    qs = [model.encode(part(x, i), part(y, i)) for i in range(0, len(x), batch_size)]
    if not qs:
        empty = torch.empty(0, model.latent_dim, device=device)
        return empty, empty
    return torch.cat([q.mean for q in qs]), torch.cat([q.logvar for q in qs])


def posterior_means(model: Any, x: torch.Tensor, batch_size: int = ENCODE_BATCH,
                    y: torch.Tensor | None = None) -> torch.Tensor:
    """E_q[z|x], the code a picture decodes an input from: (N, D)."""
    return posteriors(model, x, batch_size, y)[0]


@torch.no_grad()
def decode(model: Any, z: torch.Tensor, batch_size: int = ENCODE_BATCH) -> torch.Tensor:
    """The mean of p(x|z) for codes of any leading shape (*S, D), on the CPU: (*S, *event).

    The values are the model's, not cut for drawing: the kind's writers draw them (images clamp to [0, 1]
    there; a sentence's `.mean`, its greedy decoding, is token ids that a clamp would turn into 0s and 1s)."""
    lead = z.shape[:-1]
    flat = z.reshape(-1, z.shape[-1]).to(model_device(model))  # (prod S, D)
    out = torch.cat([model.decode(flat[i:i + batch_size]) for i in range(0, len(flat), batch_size)])
    return out.reshape(*lead, *out.shape[1:]).cpu()  # (*S, *event)


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def check_index(index: int, n: int, option: str) -> None:
    if not 0 <= index < n:
        raise ConfigError(f"{option} {index} is out of range: the split has {n} items (0..{n - 1})")


def grid_rows(rows: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Rows of items (R, T, *event) -> the (R*T, *event) batch a kind's `write_grid` lays out T to a row, and T."""
    r, t = rows.shape[:2]
    return rows.reshape(r * t, *rows.shape[2:]), t  # (R*T, *event)
