"""Content and motion swaps: every cell is f of its row's video with z_1:T of its column's (checked against the
closed form of a model whose codes are frame brightnesses, and against `model.swap`), the donors' originals
head the rows and columns, and `vaekit convert` on a video run writes the grid as GIF, strip and .npy; models
without a content latent, and class options, are refused with a message."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.kinds.videos.fakes import FakeSequentialVAE, flat_videos
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.data import TensorData
from vaekit.errors import ConfigError
from vaekit.runs import Run
from vaekit.viz.swap import BLANK, check_swap, input_swap_rows, swap_grid, swapped

VALUES = [[0.2, 0.3, 0.4, 0.3], [0.6, 0.5, 0.6, 0.7], [0.5, 0.5, 0.1, 0.5]]  # frame brightness of 3 videos


def expected_swap(content: list[float], motion: list[float]) -> torch.Tensor:
    """The fake's swap in closed form: content's mean brightness plus motion's change at each frame."""
    c, m = torch.as_tensor(content), torch.as_tensor(motion)
    return c.mean() + m - m.mean()  # (T,)


def test_grid_cells_swap_content_of_rows_into_motion_of_columns():
    model, x = FakeSequentialVAE(), flat_videos(VALUES)
    grid = swap_grid(model, x)
    assert grid.shape == (4, 4, 4, 1, 8, 8)
    assert torch.all(grid[0, 0] == BLANK)
    torch.testing.assert_close(grid[0, 1:], x)      # header row: the motion donors
    torch.testing.assert_close(grid[1:, 0], x)      # header column: the content donors
    for i in range(3):
        for j in range(3):
            frames = grid[1 + i, 1 + j][:, 0, 0, 0]  # (T,) one value per frame
            torch.testing.assert_close(frames, expected_swap(VALUES[i], VALUES[j]))
            torch.testing.assert_close(grid[1 + i, 1 + j], model.swap(x[i:i + 1], x[j:j + 1])[0])
    torch.testing.assert_close(grid[1:, 1:].diagonal(0, 0, 1).movedim(-1, 0), x)  # the diagonal reconstructs


def test_input_rows_take_its_content_into_their_motion_and_back():
    model, x = FakeSequentialVAE(), flat_videos(VALUES)
    u = flat_videos([[0.9, 0.1, 0.9, 0.1], [0.0, 0.2, 0.0, 0.2]])
    rows = input_swap_rows(model, u, x)
    assert rows.shape == (5, 4, 4, 1, 8, 8)
    torch.testing.assert_close(rows[0, 1:], x)
    for n in range(2):
        torch.testing.assert_close(rows[1 + 2 * n, 0], u[n])
        torch.testing.assert_close(rows[2 + 2 * n, 0], u[n])
        for k in range(3):
            torch.testing.assert_close(rows[1 + 2 * n, 1 + k][:, 0, 0, 0], expected_swap(u[n, :, 0, 0, 0], VALUES[k]))
            torch.testing.assert_close(rows[2 + 2 * n, 1 + k][:, 0, 0, 0], expected_swap(VALUES[k], u[n, :, 0, 0, 0]))


def test_swapped_pairs_all_contents_with_all_motions():
    model = FakeSequentialVAE(static_dim=2)
    a, b = flat_videos(VALUES[:2]), flat_videos(VALUES)
    out = swapped(model, a, b)
    assert out.shape == (2, 3, 4, 1, 8, 8)
    torch.testing.assert_close(out[1, 2], model.swap(a[1:], b[2:])[0])


def test_models_without_a_content_latent_are_refused():
    with pytest.raises(ConfigError, match="--model dsae"):
        check_swap(SimpleNamespace(static_dim=4))
    with pytest.raises(ConfigError, match="--static-dim 0"):
        check_swap(FakeSequentialVAE(static_dim=0))


@pytest.fixture
def video_run(monkeypatch, tmp_path):
    """`vaekit convert` on a run holding the fake model: loading the run and its test videos is replaced."""
    import vaekit.kinds
    import vaekit.runs
    import vaekit.viz.common

    model = FakeSequentialVAE()
    cfg = Config(data=DataConfig(dataset="moving-shapes"), model=ModelConfig(), train=TrainConfig())
    run = Run(dir=tmp_path, config=cfg, model=model, event_shape=model.event_shape)
    test, uploaded = TensorData(flat_videos(VALUES)), TensorData(flat_videos([[0.9, 0.1, 0.9, 0.1]]))
    monkeypatch.setattr(vaekit.runs, "load_run", lambda *a, **k: run)
    monkeypatch.setattr(vaekit.viz.common, "load_items", lambda run, split, n, seed: test.take(n))
    monkeypatch.setattr(vaekit.kinds, "load_path", lambda *a, **k: uploaded)
    return SimpleNamespace(model=model, test=test.x, uploaded=uploaded.x)


def test_convert_command_writes_the_swap_grid(video_run, tmp_path, capsys):
    from vaekit.cli import main

    out = tmp_path / "swaps.png"
    assert main(["convert", "RUN", "-n", "2", "--out", str(out)]) == 0
    assert {p.name for p in tmp_path.iterdir()} >= {"swaps.gif", "swaps.png", "swaps.npy"}
    np.testing.assert_allclose(np.load(tmp_path / "swaps.npy"), swap_grid(video_run.model, video_run.test[:2]).numpy())
    assert "content (f) of test video i" in capsys.readouterr().out


def test_convert_command_swaps_an_input(video_run, tmp_path):
    from vaekit.cli import main

    out = tmp_path / "mine.gif"
    assert main(["convert", "RUN", "--input", "clip.gif", "-n", "3", "--out", str(out)]) == 0
    want = input_swap_rows(video_run.model, video_run.uploaded, video_run.test)  # (3, 4, *event)
    np.testing.assert_allclose(np.load(tmp_path / "mine.npy"), want.numpy())
    assert (tmp_path / "mine.gif").stat().st_size > 0


def test_convert_command_refuses_class_options_on_videos(video_run, capsys):
    from vaekit.cli import main

    assert main(["convert", "RUN", "--to", "1"]) != 0
    assert "--from and --to choose classes" in capsys.readouterr().err


def test_the_sequential_vae_swaps_as_its_own_swap():
    """The real model: every cell of the grid is `model.swap` of its row's and column's videos."""
    from tests.kinds.videos.test_model import lively, tiny_model

    model = lively(tiny_model()).eval()
    x = torch.rand(3, *model.event_shape, generator=torch.Generator().manual_seed(0))
    grid = swap_grid(model, x)
    want = torch.stack([model.swap(x[i:i + 1].expand(3, *x.shape[1:]), x) for i in range(3)])  # (3, 3, *event)
    torch.testing.assert_close(grid[1:, 1:], want, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(grid[1, 2], grid[1, 1])  # another video's motion changes the picture
    frames = tiny_model(arch="frames")
    with pytest.raises(ConfigError, match="no static latent"):
        swap_grid(frames, x)


@pytest.mark.parametrize("part", ["content", "motion"])
def test_interpolating_one_part_keeps_the_other_of_the_first_video(part):
    from vaekit.viz.swap import interpolate_part

    model, x = FakeSequentialVAE(), flat_videos(VALUES)
    rows = interpolate_part(model, x[:2], x[1:], 5, "linear", part)  # pairs (0, 1), (1, 2)
    assert rows.shape == (2, 5, 4, 1, 8, 8)
    for p in range(2):
        a, b = VALUES[p], VALUES[p + 1]
        torch.testing.assert_close(rows[p, 0], model.reconstruct(x[p:p + 1])[0])  # starts at the first video
        end = expected_swap(b, a) if part == "content" else expected_swap(a, b)  # one part of the second's
        torch.testing.assert_close(rows[p, -1][:, 0, 0, 0], end)
        mid = rows[p, 2][:, 0, 0, 0]  # halfway: a linear path of the moving part alone
        torch.testing.assert_close(mid, (expected_swap(a, a) + end) / 2)
