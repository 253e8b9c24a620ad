"""Loss curves: the right records from metrics.jsonl, the epoch table, the picture's size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vaekit.cli import main
from vaekit.errors import VaekitError
from vaekit.viz.curves import EPOCH_COLUMNS, read_curves


def write_metrics(path, n_steps=7, n_epochs=3):
    recs = [{"kind": "init", "epoch": 0, "step": 0, "val_elbo": -90.0, "val_rate": 1.0, "val_distortion": 89.0}]
    for s in range(1, n_steps + 1):
        recs.append({"kind": "step", "epoch": 1 + (s - 1) // 3, "step": 10 * s, "elbo": -80.0 + s, "rate": 2.0 + s,
                     "distortion": 78.0 - 2 * s, "loss": 1.0})
    for e in range(1, n_epochs + 1):
        recs.append({"kind": "epoch", "epoch": e, "step": 30 * e, "train_elbo": -70.0 + e, "train_rate": 3.0,
                     "train_distortion": 67.0 - e, "val_elbo": "nan" if e == 2 else -71.0 + e, "val_rate": 3.5,
                     "val_distortion": 67.5 - e, "lr": 1e-3})
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_read_curves_counts_and_values(tmp_path):
    c = read_curves(write_metrics(tmp_path / "metrics.jsonl"))
    assert len(c.steps["step"]) == 7 and c.steps["step"].tolist() == [10, 20, 30, 40, 50, 60, 70]
    assert c.steps["rate"].tolist() == [3, 4, 5, 6, 7, 8, 9]
    assert len(c.train["step"]) == 3 and c.train["elbo"].tolist() == [-69, -68, -67]
    assert c.val["step"].tolist() == [0, 30, 60, 90]  # the init record is the first validation point
    assert c.val["elbo"][0] == -90 and np.isnan(c.val["elbo"][2])  # "nan" strings read back as NaN
    table = c.epoch_table()
    assert table.shape == (3, len(EPOCH_COLUMNS)) and table[:, 0].tolist() == [1, 2, 3]
    assert table[2, EPOCH_COLUMNS.index("val_distortion")] == 64.5
    assert table[0, EPOCH_COLUMNS.index("train_rate")] == 3.0


def test_missing_or_empty_metrics_are_errors(tmp_path):
    with pytest.raises(VaekitError, match="no metrics file"):
        read_curves(tmp_path)
    (tmp_path / "metrics.jsonl").write_text("")
    with pytest.raises(VaekitError, match="no step, epoch or init"):
        read_curves(tmp_path)


def test_curves_command(run_dir, tmp_path):
    out = tmp_path / "c.png"
    assert main(["curves", str(run_dir), "--out", str(out)]) == 0
    assert Image.open(out).size == (1200, 360)
    table = np.load(out.with_suffix(".npy"))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert table.shape == (len(epochs), 8) and table[-1, 5] == pytest.approx(epochs[-1]["val_elbo"])
