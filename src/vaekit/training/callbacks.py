"""What the training loop tells the code that installed it (the CLI, `vaekit.train`): the end of each
epoch and of the run. Training writes checkpoints and metrics itself; pictures and reports are
callbacks (`vaekit.viz.callbacks`), so training does not import visualisation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from vaekit.config import Config
from vaekit.kinds import Kind


@dataclass(frozen=True)
class EpochEnd:
    """An epoch has ended (its checkpoint is written right after the callbacks return)."""
    run_dir: Path
    epoch: int
    model: torch.nn.Module   # the evaluation weights (the EMA copy when enabled), in eval mode or not
    val_data: Any            # the validation split
    config: Config
    device: torch.device
    kind: Kind               # the data's kind: how its items are written for a person


class Callback(Protocol):
    def on_epoch_end(self, event: EpochEnd) -> None: ...

    def on_train_end(self, run_dir: Path, config: Config) -> None: ...
