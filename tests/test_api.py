"""The Python API as the README shows it, on a tiny run."""

from __future__ import annotations

import subprocess
import sys

import torch

import vaekit
from tests.conftest import tiny_config


def test_readme_python_api(tmp_path):
    cfg = tiny_config(epochs=1)
    run = vaekit.train(cfg, out=tmp_path / "run")
    model = vaekit.load(run.dir)
    x = vaekit.kinds.load_split(cfg.data, "test").x[:8]
    q = model.encode(x)
    assert q.mean.shape == (8, 4) and torch.equal(model.decode(q.mean), model.reconstruct(x))
    assert model.sample(16).shape == (16, 1, 16, 16)
    ll = model.log_likelihood(x, k=64)
    metrics = vaekit.evaluate(model, vaekit.kinds.load_split(cfg.data, "test"), k=64, progress=False, compile=False)
    assert ll.shape == (8,) and metrics["log_likelihood"] < 0
    assert isinstance(run, vaekit.Run) and run.metrics[-1]["kind"] == "epoch"


def test_import_does_no_heavy_work():
    code = "import sys, vaekit; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # importing vaekit loads nothing until first use
