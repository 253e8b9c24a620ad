"""Class conversion with a class-conditional VAE (Sohn et al. 2015, "Learning Structured Output
Representation using Deep Conditional Generative Models"): the encoder q(z|x, y) explains what the
label does not (the style: slant, thickness), so decoding the same z with another label y' draws the
input's style in class y'. Pictures only read the model; nothing trains here.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import ConfigError
from vaekit.viz.common import model_device


def check_conditional(model: Any, what: str) -> int:
    """The model's number of classes, or a clear error for an unconditional model."""
    k = int(getattr(model, "n_classes", 0))
    if not k:
        raise ConfigError(f"{what} needs a class-conditional model: train it with --conditional")
    return k


def check_label(label: int, k: int, option: str = "--label") -> None:
    if not 0 <= label < k:
        raise ConfigError(f"{option} {label} is out of range: the model has classes 0..{k - 1}")


@torch.no_grad()
def conversion_rows(model: Any, x: torch.Tensor, y: torch.Tensor, targets: list[int] | None = None) -> torch.Tensor:
    """One row per input: [input, its reconstruction, converted to each target class], each the mean of
    p(x | z, y') at z = E q(z|x, y) with the input's own label y. Returns (N, 2 + T, *event) on the CPU."""
    k = check_conditional(model, "conversion")
    targets = list(range(k)) if targets is None else targets
    for t in targets:
        check_label(t, k, "--to")
    device = model_device(model)
    x, y = x.to(device), y.to(device)
    z = model.encode(x, y).mean  # (N, D): the style, with the input's own class
    cols = [x, model.decode(z, y)]
    cols += [model.decode(z, torch.full_like(y, t)) for t in targets]  # each (N, *event)
    return torch.stack(cols, 1).cpu()  # (N, 2 + T, *event)


@torch.no_grad()
def class_samples(model: Any, per_class: int, seed: int = 0, labels: list[int] | None = None) -> torch.Tensor:
    """`per_class` draws z ~ p(z) decoded with each label (the same z in every row, so a column shows one
    style across classes): (len(labels), per_class, *event) on the CPU."""
    k = check_conditional(model, "class samples")
    labels = list(range(k)) if labels is None else labels
    gen = torch.Generator(device=model_device(model)).manual_seed(seed)
    z = model.prior_sample(per_class, gen)  # (n, D)
    rows = [model.decode(z, torch.full((per_class,), c, device=z.device)) for c in labels]
    return torch.stack(rows).cpu()  # (L, n, *event)
