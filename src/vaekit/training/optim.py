"""The optimizer: Adam, or AdamW (decoupled weight decay, Loshchilov & Hutter 2019) when
`--weight-decay` is set, its decay falling on the layers' weight matrices only."""

from __future__ import annotations

import torch
from torch import nn

from vaekit.config import TrainConfig

# Layers whose `weight` is decayed. Biases, and the priors' own parameters (VampPrior pseudo-inputs, which
# live in data space; mixture means, variances and weights), are not pulled toward 0: nanoGPT's rule
# (matrices only), with the pseudo-inputs excluded by their module type rather than by their name.
DECAYED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """[decayed layer weights, everything else trainable] as optimizer parameter groups."""
    decayed = {id(m.weight) for m in model.modules() if isinstance(m, DECAYED_LAYERS)}
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, t: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    # fused: one kernel for the whole update, faster than foreach on the CPU (docs/benchmarks.md)
    fused = device.type in ("cpu", "cuda")
    if t.weight_decay > 0:
        return torch.optim.AdamW(parameter_groups(model, t.weight_decay), lr=t.lr, fused=fused)
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=t.lr, fused=fused)
