"""Visualisation: reads model outputs and returns arrays / writes pictures; never trains.

Names load on first use (as in `vaekit`): the CLI imports its picture commands to build its parser,
and `vaekit --help` should not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "make_grid": "vaekit.kinds.images.grid", "save_grid": "vaekit.kinds.images.grid",
    "save_png": "vaekit.kinds.images.grid",
    "lerp": "vaekit.viz.interpolate", "slerp": "vaekit.viz.interpolate", "interpolate": "vaekit.viz.interpolate",
    "interpolate_inputs": "vaekit.viz.interpolate", "interpolate_prior": "vaekit.viz.interpolate",
    "traverse": "vaekit.viz.traverse", "dimension_usage": "vaekit.viz.usage",
    "manifold": "vaekit.viz.manifold", "manifold_codes": "vaekit.viz.manifold",
    "embed_2d": "vaekit.viz.scatter", "latent_scatter": "vaekit.viz.scatter", "plot_scatter": "vaekit.viz.scatter",
    "read_curves": "vaekit.viz.curves", "plot_curves": "vaekit.viz.curves",
    "write_report": "vaekit.viz.report",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vaekit.viz' has no attribute {name!r}")
