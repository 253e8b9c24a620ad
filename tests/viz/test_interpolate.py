"""Interpolation: lerp/slerp numbers, endpoints that decode to the reconstructions, and the command's grid."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.viz.conftest import grid_size
from vaekit.cli import main
from vaekit.errors import ConfigError
from vaekit.viz.interpolate import choose_pairs, interpolate, interpolate_inputs, interpolate_prior, lerp, slerp

T = torch.linspace(0, 1, 9)


def test_lerp_and_slerp_hit_the_endpoints():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    for f in (lerp, slerp):
        path = f(z0, z1, T)  # (T, 5, 4)
        assert path.shape == (9, 5, 4)
        assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-6)
        assert torch.allclose(f(z0, z1, 0.0), z0, atol=1e-6) and torch.allclose(f(z0, z1, 1.0), z1, atol=1e-6)
    assert torch.allclose(lerp(z0, z1, 0.25), 0.75 * z0 + 0.25 * z1)


def test_slerp_keeps_the_norm_and_moves_at_constant_angle():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(6, 8, generator=g, dtype=torch.float64), torch.randn(6, 8, generator=g, dtype=torch.float64)
    z1 = z1 / z1.norm(dim=-1, keepdim=True) * z0.norm(dim=-1, keepdim=True)  # equal norms, pair by pair
    path = slerp(z0, z1, T.double())  # (T, 6, 8)
    assert torch.allclose(path.norm(dim=-1), z0.norm(dim=-1).expand(9, 6), rtol=1e-10)
    cos = (path[1:] * path[:-1]).sum(-1) / (path[1:].norm(dim=-1) * path[:-1].norm(dim=-1))  # (T-1, 6)
    step = torch.arccos(cos.clamp(-1, 1))
    total = torch.arccos((z0 * z1).sum(-1) / (z0.norm(dim=-1) * z1.norm(dim=-1)))
    assert torch.allclose(step, (total / 8).expand(8, 6), atol=1e-7)  # equal angular steps, summing to the angle
    # a linear path between the same codes is shorter in the middle
    assert (lerp(z0, z1, 0.5).norm(dim=-1) < z0.norm(dim=-1)).all()


def test_slerp_of_parallel_or_opposite_codes_falls_back_to_lerp():
    z0 = torch.tensor([[1.0, 2.0], [1.0, 0.0]])
    z1 = torch.tensor([[2.0, 4.0], [-1.0, 0.0]])
    assert torch.allclose(slerp(z0, z1, T), lerp(z0, z1, T))
    assert torch.isfinite(slerp(torch.zeros(1, 3), torch.ones(1, 3), T)).all()


def test_interpolate_shapes_and_mode_check():
    z = interpolate(torch.zeros(3, 2), torch.ones(3, 2), 5, "linear")
    assert z.shape == (3, 5, 2) and torch.allclose(z[:, 2], torch.full((3, 2), 0.5))
    with pytest.raises(ConfigError, match="--mode"):
        interpolate(torch.zeros(1, 2), torch.ones(1, 2), 5, "cubic")
    with pytest.raises(ConfigError, match="--steps"):
        interpolate(torch.zeros(1, 2), torch.ones(1, 2), 1)


@pytest.mark.parametrize("mode", ["linear", "slerp"])
def test_endpoints_decode_to_the_reconstructions_of_the_inputs(run, items, mode):
    x0, x1 = items.x[[0, 5, 7]], items.x[[3, 9, 2]]
    paths = interpolate_inputs(run.model, x0, x1, 6, mode)
    assert paths.shape == (3, 6, 1, 16, 16)
    assert torch.allclose(paths[:, 0], run.model.reconstruct(x0), atol=1e-5)
    assert torch.allclose(paths[:, -1], run.model.reconstruct(x1), atol=1e-5)
    one = interpolate_inputs(run.model, items.x[0], items.x[3], 6, mode)  # a single pair, no batch dimension
    assert torch.allclose(one[0], paths[0], atol=1e-6)


def test_prior_interpolation_starts_and_ends_at_prior_draws(run):
    paths = interpolate_prior(run.model, 3, 5, "slerp", seed=4)
    z = run.model.prior_sample(6, generator=torch.Generator().manual_seed(4))
    assert torch.allclose(paths[:, 0], run.model.decode(z[:3]), atol=1e-5)
    assert torch.allclose(paths[:, -1], run.model.decode(z[3:]), atol=1e-5)
    assert torch.equal(paths, interpolate_prior(run.model, 3, 5, "slerp", seed=4))


def test_choose_pairs():
    assert choose_pairs(10, indices=[1, 2, 7, 3]) == [(1, 2), (7, 3)]
    pairs = choose_pairs(10, 5, seed=3)
    assert len(pairs) == 5 and all(a != b and 0 <= a < 10 and 0 <= b < 10 for a, b in pairs)
    assert pairs == choose_pairs(10, 5, seed=3) and pairs != choose_pairs(10, 5, seed=4)
    with pytest.raises(ConfigError, match="--indices 10 is out of range"):
        choose_pairs(10, indices=[1, 10])


def test_interpolate_command_writes_the_grid_and_rows(run, run_dir, items, tmp_path):
    out = tmp_path / "i.png"
    assert main(["interpolate", str(run_dir), "--indices", "0,3,5,9", "--steps", "7", "--mode", "linear",
                 "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(rows=2, cols=7)
    rows = np.load(out.with_suffix(".npy"))
    assert rows.shape == (2, 7, 1, 16, 16)
    expected = interpolate_inputs(run.model, items.x[[0, 5]], items.x[[3, 9]], 7, "linear")
    assert np.allclose(rows, expected.numpy(), atol=1e-6)
    assert np.allclose(rows[:, 0], run.model.reconstruct(items.x[[0, 5]]).numpy(), atol=1e-5)

    out = tmp_path / "p.png"
    assert main(["interpolate", str(run_dir), "--source", "prior", "--pairs", "3", "--steps", "4",
                 "--out", str(out)]) == 0
    assert Image.open(out).size == grid_size(rows=3, cols=4)
