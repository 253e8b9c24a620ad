"""The commands on a video run trained from the real built-in loader: train, evaluate (nats per frame, log p(x)
above the ELBO), sample, reconstruct, interpolate (content alone by default), convert (swaps) and the report,
each writing GIFs whose frames are the decoded videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vaekit
from vaekit.cli import main
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.kinds.videos.show import FRAME_MS
from vaekit.runs import load_run

T, SIDE = 4, 16


def tiny_video_config(epochs: int = 1) -> Config:
    return Config(DataConfig(dataset="moving-shapes", subset=60, frames=T, image_size=SIDE),
                  ModelConfig(arch="dsae", channels_base=4, hidden=[16], latent_dim=2, static_dim=3, rnn_hidden=8),
                  TrainConfig(epochs=epochs, batch_size=16, progress=False, compile=False, report=False))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return str(vaekit.train(tiny_video_config(), out=tmp_path_factory.mktemp("videos") / "run", callbacks=[]).dir)


def gif_frames(path) -> int:
    """How many video frames a GIF plays: Pillow merges equal consecutive frames into one of their summed
    duration (an untrained model's samples barely move), so count by time."""
    with Image.open(path) as im:
        total = 0
        for i in range(im.n_frames):
            im.seek(i)
            total += im.info["duration"]
    return round(total / FRAME_MS)


def test_evaluate_reports_nats_per_frame_and_log_p_above_the_elbo(run_dir):
    assert main(["evaluate", run_dir, "--k", "50", "--no-compile"]) == 0
    res = json.loads((Path(run_dir) / "metrics.json").read_text())
    assert res["unit"] == "nats/frame"
    assert res["nats_per_frame"] == pytest.approx(-res["log_likelihood"] / T)
    assert res["log_likelihood"] >= res["elbo"] - 1e-6
    assert res["latent_dim"] == 3 + T * 2  # the flat latent [f, z_1 .. z_T]


def test_sample_reconstruct_and_convert_write_animations(run_dir, tmp_path):
    for cmd, name in (("sample", "s"), ("reconstruct", "r"), ("convert", "c")):
        out = tmp_path / f"{name}.gif"
        assert main([cmd, run_dir, "-n", "3", "--out", str(out)]) == 0
        assert gif_frames(out) == T and out.with_suffix(".png").exists()
    swaps = np.load(tmp_path / "c.npy")  # (4, 4, T, C, H, W): originals around the 3 x 3 swap grid
    assert swaps.shape == (4, 4, T, 3, SIDE, SIDE)
    run = load_run(run_dir)
    x = torch.from_numpy(swaps[1:, 0])  # the content donors, as read from the test split
    np.testing.assert_allclose(swaps[1, 2], run.model.swap(x[:1], x[1:2])[0].numpy(), atol=1e-5)


def test_interpolate_moves_the_content_and_keeps_the_first_videos_motion(run_dir, tmp_path):
    out = tmp_path / "i.gif"
    assert main(["interpolate", run_dir, "--indices", "0,1", "--steps", "3", "--mode", "linear",
                 "--out", str(out)]) == 0
    rows = torch.from_numpy(np.load(tmp_path / "i.npy"))  # (1, 3, T, C, H, W)
    run = load_run(run_dir)
    from vaekit.viz.common import load_items

    x = load_items(run, "test", 2, 0).x
    torch.testing.assert_close(rows[0, 0], run.model.reconstruct(x[:1])[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(rows[0, -1], run.model.swap(x[1:2], x[:1])[0], atol=1e-5, rtol=0)


def test_report_plays_the_videos_and_shows_swaps(run_dir, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", run_dir, "--out", str(out)]) == 0
    page = out.read_text()
    assert page.count("data:image/gif;base64,") >= 4 and "Content and motion swapped" in page
