"""Loss curves from a run's metrics.jsonl: the ELBO and its two terms, train and validation.

The ELBO of Kingma & Welling (2013), eq. 7, splits into a rate and a distortion (Alemi et al. 2018,
"Fixing a Broken ELBO"):  ELBO = -(rate + distortion),  rate = KL(q(z|x) || p(z)) (nats the code
carries),  distortion = -E_q[log p(x|z)] (nats to describe x given the code). A rate that stays near 0
while the distortion stalls is posterior collapse; a validation ELBO that falls while the training
ELBO rises is overfitting.

Records read (all written by the training loop): "step" (every --log-every steps: elbo, rate,
distortion of one minibatch), "epoch" (train_* averaged over the epoch, val_* on the validation split)
and "init" (val_* before the first step, drawn as the first validation point, at step 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vaekit.errors import VaekitError

TERMS = ("elbo", "rate", "distortion")
EPOCH_COLUMNS = ("epoch", "step", *(f"{s}_{t}" for s in ("train", "val") for t in TERMS))


@dataclass
class Curves:
    steps: dict[str, np.ndarray]  # "step", "elbo", "rate", "distortion": one value per logged step
    train: dict[str, np.ndarray]  # "epoch", "step", "elbo", "rate", "distortion": one per epoch
    val: dict[str, np.ndarray]    # the same for validation, the "init" record first when present

    def epoch_table(self) -> np.ndarray:
        """Epoch records as an (E, 8) float array, columns EPOCH_COLUMNS (the .npy beside the picture)."""
        n = len(self.train["epoch"])
        val_at = {int(e): i for i, e in enumerate(self.val["epoch"])}
        rows = []
        for i in range(n):
            j = val_at.get(int(self.train["epoch"][i]))
            val = [self.val[t][j] if j is not None else np.nan for t in TERMS]
            rows.append([self.train["epoch"][i], self.train["step"][i], *(self.train[t][i] for t in TERMS), *val])
        return np.asarray(rows, dtype=np.float64).reshape(n, len(EPOCH_COLUMNS))


def metrics_path(run_or_file: str | Path) -> Path:
    p = Path(run_or_file)
    return p / "metrics.jsonl" if p.is_dir() else p


def _series(records: list[dict[str, Any]], keys: dict[str, str]) -> dict[str, np.ndarray]:
    """Columns {name: values} from the records' fields (non-finite values are logged as strings)."""
    return {name: np.asarray([float(r.get(field, "nan")) for r in records], dtype=np.float64)
            for name, field in keys.items()}


def read_curves(run_or_file: str | Path) -> Curves:
    """The curves of a run folder (or of a metrics.jsonl file itself)."""
    from vaekit.runs.metrics import read_metrics

    path = metrics_path(run_or_file)
    if not path.is_file():
        raise VaekitError(f"no metrics file at {path}: expected a run folder written by `vaekit train`")
    records = read_metrics(path)
    steps = [r for r in records if r.get("kind") == "step"]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    vals = [r for r in records if r.get("kind") in ("init", "epoch") and "val_elbo" in r]
    if not steps and not epochs and not vals:
        raise VaekitError(f"{path} has no step, epoch or init records to draw")
    base = {"epoch": "epoch", "step": "step"}
    return Curves(steps=_series(steps, {"step": "step", **{t: t for t in TERMS}}),
                  train=_series(epochs, {**base, **{t: f"train_{t}" for t in TERMS}}),
                  val=_series(vals, {**base, **{t: f"val_{t}" for t in TERMS}}))


def plot_curves(curves: Curves, out: str | Path | BinaryIO) -> None:
    """Three panels (ELBO, rate, distortion in nats against the optimiser step), 12 x 3.6 in at 100 dpi
    (1200 x 360 pixels): per-step minibatch values thin, epoch averages and validation with markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(out, str | Path):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=100)
    try:
        for ax, term in zip(axes, TERMS, strict=True):
            _panel(ax, curves, term)
        fig.tight_layout()
        fig.savefig(out, dpi=100, format="png")
    finally:
        plt.close(fig)


def _panel(ax: Any, curves: Curves, term: str) -> None:
    titles = {"elbo": "ELBO (nats, higher is better)", "rate": "rate = KL(q(z|x) || p(z)) (nats)",
              "distortion": "distortion = -E_q log p(x|z) (nats)"}
    if len(curves.steps["step"]):
        ax.plot(curves.steps["step"], curves.steps[term], lw=0.8, alpha=0.5, color="tab:blue", label="train (step)")
    if len(curves.train["step"]):
        ax.plot(curves.train["step"], curves.train[term], "o-", ms=3, color="tab:blue", label="train (epoch)")
    if len(curves.val["step"]):
        ax.plot(curves.val["step"], curves.val[term], "s-", ms=3, color="tab:orange", label="validation")
    ax.set_title(titles[term], fontsize="medium")
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
