"""Arrays: a .npy / .npz of shape (N, ...) (tabular rows, features), standardised per feature with the
training split's statistics; read whole (`memory`) or batch by batch from disk (`stream`, with
--no-in-memory). Written for a person as .npy files: standardised values have no picture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaekit.errors import DataError
from vaekit.kinds.base import Kind


class ArrayKind(Kind):
    name = "arrays"
    datasets = ("array",)
    architectures = ("mlp", "resmlp")
    needs_data_dir = ("array",)
    likelihoods = ("gaussian", "bernoulli")

    def load_split(self, cfg: Any, split: str, stats: dict | None = None) -> Any:
        if cfg.in_memory:
            from vaekit.kinds.arrays.memory import load_array

            return load_array(cfg, split, stats)
        from vaekit.kinds.arrays.stream import load_streamed

        return load_streamed(cfg, split, stats)

    def load_path(self, path: Path, cfg: Any, stats: dict | None = None) -> Any:
        """A .npy / .npz of new items, standardised with the run's statistics."""
        if path.suffix.lower() not in (".npy", ".npz"):
            raise DataError(f"input {path}: a run on array data reads .npy or .npz files")
        from vaekit.kinds.arrays.memory import load_array_path

        return load_array_path(path, stats)
