"""The layout of a run folder: every file a run writes is named here, and nowhere else.

RUN_DIR/
  config.json             the full config (readable, editable)
  data_stats.json         array standardisation statistics (array data only)
  metrics.jsonl           one JSON record per logged step and per epoch
  checkpoints/            last.safetensors, last-ema.safetensors, last-optim.pt, last.json (commit point),
                          best.safetensors + best.json (the evaluation weights at the best validation ELBO)
  samples/, recon/        per-epoch grids; samples.png, reconstructions.png: the latest
  report.html             the run report (`vaekit report`)
  metrics.json            written by `vaekit evaluate`
  tensorboard/            event files, with --tensorboard
  .lock                   held while a trainer writes into the folder
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vaekit.config import Config


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def data_stats(self) -> Path:
        return self.root / "data_stats.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def state(self, which: str) -> Path:
        """The commit record of checkpoint `which` ("last" or "best")."""
        return self.checkpoints / f"{which}.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def evaluation(self) -> Path:
        return self.root / "metrics.json"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"


def default_run_dir(cfg: Config) -> Path:
    """runs/DATASET-ARCH-YYYYmmdd-HHMMSS under the working directory."""
    return Path("runs") / f"{cfg.data.dataset}-{cfg.model.arch}-{datetime.now():%Y%m%d-%H%M%S}"
