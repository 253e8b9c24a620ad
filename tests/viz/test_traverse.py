"""Traversals: rows ranked by the closed-form KL, the swept coordinate exact, the others at the base code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.viz.conftest import grid_size
from vaekit.cli import main
from vaekit.config import ModelConfig
from vaekit.errors import ConfigError
from vaekit.model import build_model
from vaekit.viz.traverse import rank_rows, sweep_values, traversal_codes, traverse
from vaekit.viz.usage import DimensionUsage, dimension_usage, has_standard_normal_prior, parse_dims


def kl_reference(run, x) -> np.ndarray:
    """Mean over x of -1/2 (1 + log s² - m² - s²) per dimension (K&W 2013, App. B), in float64."""
    q = run.model.encode(x)
    m, lv = q.mean.double().numpy(), q.logvar.double().numpy()
    return (-0.5 * (1 + lv - m**2 - np.exp(lv))).mean(0)


def test_rows_are_ordered_by_decreasing_kl(run, items):
    ref = kl_reference(run, items.x)
    usage = dimension_usage(run.model, items.x)
    assert usage.measure == "kl" and np.allclose(usage.scores.numpy(), ref, rtol=1e-5)
    t = traverse(run.model, items.x)
    assert t.dims == list(np.argsort(-ref, kind="stable"))
    assert all(ref[a] >= ref[b] for a, b in zip(t.dims, t.dims[1:], strict=False))


def test_swept_coordinate_takes_the_values_and_others_keep_the_base(run, items):
    values = sweep_values(-2.0, 1.0, 4)
    assert values.tolist() == [-2.0, -1.0, 0.0, 1.0]
    base = run.model.encode(items.x[7:8]).mean[0]
    t = traverse(run.model, items.x, base=base, values=values)
    assert t.codes.shape == (3, 4, 3) and t.images.shape == (3, 4, 1, 16, 16)
    for k, d in enumerate(t.dims):
        assert torch.equal(t.codes[k, :, d], values)
        others = [j for j in range(3) if j != d]
        assert torch.equal(t.codes[k][:, others], base[others].expand(4, 2))
    assert torch.allclose(t.images, run.model.decode(t.codes.reshape(-1, 3)).reshape(3, 4, 1, 16, 16), atol=1e-6)
    zero = traverse(run.model, items.x, dims=[2, 0], values=values)  # default base: the prior mean 0
    assert sorted(zero.dims) == [0, 2]
    for k, d in enumerate(zero.dims):
        assert torch.equal(zero.codes[k, :, d], values)
        assert (zero.codes[k][:, [j for j in range(3) if j != d]] == 0).all()


def test_traversal_codes_and_rank_rows():
    z = traversal_codes(torch.tensor([1.0, 2.0, 3.0]), [2, 0], torch.tensor([-1.0, 5.0]))
    assert z.tolist() == [[[1, 2, -1], [1, 2, 5]], [[-1, 2, 3], [5, 2, 3]]]
    usage = DimensionUsage(torch.tensor([0.5, 2.0, 0.1, 2.0], dtype=torch.float64), "kl")
    assert usage.order() == [1, 3, 0, 2]  # ties keep index order
    assert rank_rows(usage, dims=[2, 0, 3]) == [3, 0, 2] and rank_rows(usage, top=2) == [1, 3]


def test_learned_priors_and_hierarchies_rank_by_posterior_mean_variance(items):
    x = items.x[:50]
    for cfg in (ModelConfig(hidden=[16], latent_dim=3, prior="mog", prior_components=4),
                ModelConfig(hidden=[16], latent_dim=3, latent_layers=[2], layer_hidden=[8])):
        torch.manual_seed(0)
        model = build_model(cfg, (1, 16, 16)).eval()
        assert not has_standard_normal_prior(model)
        usage = dimension_usage(model, x)
        assert usage.measure == "variance"
        assert np.allclose(usage.scores.numpy(), model.encode(x).mean.double().numpy().var(0, ddof=1), rtol=1e-6)


def test_option_checks():
    with pytest.raises(ConfigError, match="--range"):
        sweep_values(3.0, -3.0)
    with pytest.raises(ConfigError, match="--dims"):
        parse_dims("0,5", 3)
    with pytest.raises(ConfigError, match="--dims"):
        parse_dims("1,1", 3)
    assert parse_dims("2,0", 3) == [2, 0] and parse_dims(None, 3) is None


def test_traverse_command(run, run_dir, items, tmp_path):
    out = tmp_path / "t.png"
    assert main(["traverse", str(run_dir), "--range", "-2", "2", "--steps", "5", "--index", "4", "--top", "2",
                 "--limit", "200", "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(rows=2, cols=5)
    rows = np.load(out.with_suffix(".npy"))
    base = run.model.encode(items.x[4:5]).mean[0]
    expected = traverse(run.model, items.x, base=base, top=2, values=sweep_values(-2, 2, 5))
    assert rows.shape == (2, 5, 1, 16, 16) and np.allclose(rows, expected.images.numpy(), atol=1e-6)
