"""`vaekit.train`: training as the command line does it, pictures and report included."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vaekit.config import Config
from vaekit.runs import Run
from vaekit.training.callbacks import Callback


def train(config: Config | None = None, out: str | Path | None = None, resume: str | Path | None = None,
          callbacks: Sequence[Callback] | None = None) -> Run:
    """Train a VAE and return its Run (folder, config, model with the best evaluation weights).

    resume: a run folder to continue from its last finished epoch; `config` (if given) may raise
    `train.epochs` to train longer, and must otherwise match the run's config. callbacks: what runs
    after each epoch and at the end (default: the per-epoch pictures and the HTML report,
    `vaekit.viz.callbacks`); [] for none.
    """
    from vaekit.training.loop import train as train_loop

    if callbacks is None:
        from vaekit.viz.callbacks import default_callbacks

        callbacks = default_callbacks()
    return train_loop(config, out, resume, callbacks)
