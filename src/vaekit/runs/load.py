"""Reading a run folder: its config, and the trained model of one of its checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vaekit.config import Config
from vaekit.config_files import load_config
from vaekit.errors import CheckpointError, ConfigError
from vaekit.kinds import kind_of
from vaekit.model import VAE, build_model
from vaekit.runs.checkpoint import load_weights, read_state
from vaekit.runs.paths import RunPaths


@dataclass
class Run:
    """What training returns: the folder, its config, the trained model (evaluation weights)."""

    dir: Path
    config: Config
    model: VAE
    event_shape: tuple[int, ...]
    data_stats: dict[str, Any] | None = None

    @property
    def metrics(self) -> list[dict[str, Any]]:
        from vaekit.runs.metrics import read_metrics

        return read_metrics(RunPaths(self.dir).metrics)


def config_changes(saved: Config, cfg: Config, sections: tuple[str, ...] = ("data", "model")) -> list[str]:
    """The options of `sections` whose values differ between two configs, as section.name."""
    a, b = saved.to_dict(), cfg.to_dict()
    return [f"{sec}.{k}" for sec in sections for k in a[sec] if a[sec][k] != b[sec][k]]


def check_resumable(saved: Config, cfg: Config, run_dir: Path) -> None:
    """A resumed run may change training options (e.g. more epochs), not its data or model."""
    changed = config_changes(saved, cfg)
    if changed:
        raise ConfigError(f"cannot resume {run_dir} with a different data/model config: {', '.join(changed)} "
                          "changed (only training options may change on --resume)")


def read_run_config(run_dir: str | Path) -> Config:
    paths = RunPaths(Path(run_dir))
    if not paths.root.is_dir():
        raise CheckpointError(f"run folder {paths.root} does not exist")
    if not paths.config.is_file():
        raise CheckpointError(f"{paths.root} is not a vaekit run folder: {paths.config.name} is missing")
    try:
        return load_config(paths.config)
    except ConfigError as e:
        raise CheckpointError(f"run config {paths.config} is invalid: {e}") from None


def load_run(run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu") -> Run:
    """Load a run's config and model. which="best" (evaluation weights at the best validation ELBO)
    or "last" (the evaluation weights of the last finished epoch)."""
    if which not in ("best", "last"):
        raise ConfigError(f"which={which!r} must be 'best' or 'last'")
    paths = RunPaths(Path(run_dir))
    cfg = read_run_config(run_dir)
    state = read_state(paths.state(which))
    shape = tuple(state["event_shape"])
    stats = read_stats(paths.root)
    model = build_model(cfg.model, shape, kind=kind_of(cfg.data.dataset), stats=stats)
    name = state["eval_weights"]
    load_weights(paths.checkpoints / name, model, state["files"].get(name))
    return Run(dir=paths.root, config=cfg, model=model.to(device).eval(), event_shape=shape, data_stats=stats)


def read_stats(run_dir: str | Path) -> dict | None:
    """What a run's training split measured of itself (`data.stats`: an array run's standardisation
    statistics, a text run's vocabulary), or None (no such file)."""
    p = RunPaths(Path(run_dir)).data_stats
    return json.loads(p.read_text()) if p.is_file() else None


def load(run_dir: str | Path, which: str = "best", device: str | torch.device = "cpu") -> VAE:
    """The trained model of a run folder, in eval mode: `vaekit.load(run_dir).sample(16)`."""
    return load_run(run_dir, which, device).model


def init_weights(model: VAE, cfg: Config, source: Path) -> None:
    """--init-from: copy the evaluation weights of `source`'s best checkpoint into `model` (fine-tuning,
    e.g. a VAE continued with the IWAE objective as in Burda et al. 2015, section 5.2)."""
    try:
        saved = read_run_config(source)
    except CheckpointError as e:  # name the option: the folder alone does not say where it came from
        raise CheckpointError(f"--init-from: {e}") from None
    changed = config_changes(saved, cfg, ("model",))
    if changed:
        raise ConfigError(f"--init-from {source}: the run's model config differs from this one "
                          f"({', '.join(changed)}); fine-tuning needs the same model")
    model.load_state_dict(load_run(source, "best").model.state_dict())
