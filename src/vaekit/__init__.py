"""vaekit: variational autoencoders (Kingma & Welling 2013) with honest likelihoods.

    import vaekit
    run = vaekit.train(vaekit.Config())          # train on the built-in shapes data
    model = vaekit.load(run.dir)                  # or any run folder
    x = model.sample(16); q = model.encode(x); ll = model.log_likelihood(x, k=5000)

Nothing heavy happens at import: submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Config": "vaekit.config", "DataConfig": "vaekit.config", "ModelConfig": "vaekit.config",
    "TrainConfig": "vaekit.config", "load_config": "vaekit.config_files",
    "VAE": "vaekit.model", "build_model": "vaekit.model",
    "train": "vaekit.api", "load": "vaekit.runs", "load_run": "vaekit.runs", "Run": "vaekit.runs",
    "evaluate": "vaekit.evaluation", "elbo": "vaekit.objectives", "iwae_bound": "vaekit.objectives",
    "VaekitError": "vaekit.errors",
}

__all__ = [*_LAZY, "__version__"]


_SUBMODULES = ("config", "data", "distributions", "evaluation", "fast", "hierarchical", "kinds", "model", "nets",
               "objectives", "runs", "training", "viz")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:  # `vaekit.data.load_split(...)` after a bare `import vaekit`
        return importlib.import_module(f"vaekit.{name}")
    raise AttributeError(f"module 'vaekit' has no attribute {name!r}")
