"""The K&W (2013) Fig. 4 manifold: Gaussian quantiles of cell centres, laid out as a plot."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
import torch
from PIL import Image

from tests.viz.conftest import grid_size
from vaekit.cli import main
from vaekit.errors import ConfigError
from vaekit.viz.manifold import default_dims, grid_quantiles, manifold, manifold_codes
from vaekit.viz.usage import dimension_usage

PHI_INV = NormalDist().inv_cdf  # an independent inverse CDF (Python's own)


def test_corner_latents_are_the_gaussian_quantiles_of_the_cell_centres():
    n = 5
    assert grid_quantiles(n).tolist() == pytest.approx([0.1, 0.3, 0.5, 0.7, 0.9])
    z = manifold_codes(n, 4, dims=(3, 1))  # (rows, cols, D)
    lo, hi = PHI_INV(0.5 / n), PHI_INV(1 - 0.5 / n)
    assert hi == pytest.approx(1.2815515655446004)
    corners = {"top-left": (z[0, 0], lo, hi), "top-right": (z[0, -1], hi, hi),
               "bottom-left": (z[-1, 0], lo, lo), "bottom-right": (z[-1, -1], hi, lo)}
    for name, (code, across, up) in corners.items():
        assert code[3].item() == pytest.approx(across, abs=1e-6), name
        assert code[1].item() == pytest.approx(up, abs=1e-6), name
    assert (z[..., [0, 2]] == 0).all()
    expected = np.array([PHI_INV((i + 0.5) / n) for i in range(n)])
    assert np.allclose(z[2, :, 3].numpy(), expected, atol=1e-6)  # a row sweeps the x dimension
    assert np.allclose(z[:, 2, 1].numpy(), expected[::-1], atol=1e-6)  # a column the y dimension, top largest
    assert z[n // 2, n // 2].abs().max() < 1e-6  # the centre cell is the prior mean


def test_manifold_decodes_the_codes_and_checks_its_options(run):
    imgs = manifold(run.model, 4, (0, 2))
    assert imgs.shape == (4, 4, 1, 16, 16)
    z = manifold_codes(4, 3, (0, 2)).reshape(16, 3)
    assert torch.allclose(imgs.reshape(16, 1, 16, 16), run.model.decode(z), atol=1e-6)
    with pytest.raises(ConfigError, match="--dims"):
        manifold_codes(4, 3, (1, 1))
    with pytest.raises(ConfigError, match="at least 2 dimensions"):
        manifold_codes(4, 1)
    with pytest.raises(ConfigError, match="-n"):
        grid_quantiles(1)


def test_manifold_command_spans_the_two_most_used_dimensions(run, run_dir, items, tmp_path):
    out = tmp_path / "m.png"
    assert main(["manifold", str(run_dir), "-n", "6", "--limit", "200", "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(rows=6, cols=6)
    dims = default_dims(dimension_usage(run.model, items.x))
    kl = dimension_usage(run.model, items.x).scores
    assert dims == tuple(torch.sort(kl, descending=True, stable=True).indices[:2].tolist())  # x axis: most used
    assert np.allclose(np.load(out.with_suffix(".npy")), manifold(run.model, 6, dims).numpy(), atol=1e-6)
    assert main(["manifold", str(run_dir), "-n", "3", "--dims", "2,0", "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(rows=3, cols=3)
