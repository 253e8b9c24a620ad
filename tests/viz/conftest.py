"""One tiny image run and one tiny array run, trained once for all the picture tests (a few seconds each)."""

from __future__ import annotations

import numpy as np
import pytest

from vaekit.cli import main
from vaekit.runs import load_run
from vaekit.viz.common import load_items

TINY = ["--data", "shapes", "--image-size", "16", "--subset", "1200", "--hidden", "32", "--latent-dim", "3",
        "--epochs", "1", "--batch-size", "64", "--no-progress", "--grid", "16", "--no-compile"]


def grid_size(rows: int, cols: int, h: int = 16, w: int = 16, pad: int = 2) -> tuple[int, int]:
    """The (width, height) PIL reports for make_grid's picture of rows x cols images (pad 2 around each)."""
    return cols * (w + pad) + pad, rows * (h + pad) + pad


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("viz") / "run"
    assert main(["train", *TINY, "--out", str(d)]) == 0
    return d


@pytest.fixture(scope="session")
def run(run_dir):
    return load_run(run_dir)


@pytest.fixture(scope="session")
def items(run):
    return load_items(run, "test", 200)


@pytest.fixture(scope="session")
def array_run_dir(tmp_path_factory):
    """Rows (N, 6) with integer labels: a non-image run (event shape (6,), Gaussian likelihood)."""
    d = tmp_path_factory.mktemp("viz-array")
    g = np.random.default_rng(0)
    y = g.integers(0, 3, size=600)
    x = g.normal(size=(600, 6)) + 3.0 * y[:, None]
    np.savez(d / "rows.npz", x=x.astype(np.float32), y=y)
    args = ["train", "--data", "array", "--data-dir", str(d / "rows.npz"), "--hidden", "16", "--latent-dim", "3",
            "--likelihood", "gaussian", "--epochs", "1", "--batch-size", "64", "--no-progress", "--no-compile",
            "--out", str(d / "run")]
    assert main(args) == 0
    return d / "run"
