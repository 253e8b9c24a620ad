"""Every subcommand end to end on a tiny run, and clear errors (exit 2, no traceback) on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vaekit.cli import main
from vaekit.kinds import load_split
from vaekit.runs import load_run

TINY = ["--data", "shapes", "--image-size", "16", "--subset", "1200", "--hidden", "32", "--latent-dim", "3",
        "--epochs", "1", "--batch-size", "64", "--no-progress", "--grid", "16", "--no-compile", "--no-report"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", *TINY, "--out", str(d)]) == 0
    return d


def test_train_writes_run_folder_and_flags_override_config_file(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[model]\nhidden = [48, 24]\nlatent_dim = 7\n[train]\nepochs = 3\n')
    out = tmp_path / "r"
    assert main(["train", "--config", str(cfg), *TINY, "--report", "--out", str(out)]) == 0  # TINY: --epochs 1
    assert "data:image/png;base64," in (out / "report.html").read_text()  # training ends with its report
    saved = json.loads((out / "config.json").read_text())
    assert saved["model"]["latent_dim"] == 3 and saved["model"]["hidden"] == [32]
    assert saved["train"]["epochs"] == 1
    assert "run folder" in capsys.readouterr().out


def test_hidden_flag_takes_repeats_and_comma_lists(tmp_path):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--hidden", "40,20", "--hidden", "10", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["model"]["hidden"] == [32, 40, 20, 10]


def test_evaluate_writes_metrics_json(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--k", "20", "--limit", "50", "--split", "val", "--no-compile"]) == 0
    m = json.loads((run_dir / "metrics.json").read_text())
    for key in ("elbo", "log_likelihood", "bits_per_dim", "active_units", "k", "n", "split"):
        assert key in m
    assert (m["k"], m["n"], m["split"]) == (20, 50, "val")
    assert m["log_likelihood"] < 0 and m["log_likelihood"] >= m["elbo"] - 1.0
    assert m["bits_per_dim"] == pytest.approx(-m["log_likelihood"] / (256 * np.log(2)))
    assert "log p(x)" in capsys.readouterr().out


def test_sample_reconstruct_encode(run_dir, tmp_path):
    png = tmp_path / "s.png"
    assert main(["sample", str(run_dir), "-n", "9", "--out", str(png)]) == 0
    arr = np.load(png.with_suffix(".npy"))
    assert arr.shape == (9, 1, 16, 16) and arr.min() >= 0 and arr.max() <= 1
    assert Image.open(png).size == (3 * 18 + 2, 3 * 18 + 2)
    rec = tmp_path / "r.png"
    assert main(["reconstruct", str(run_dir), "-n", "8", "--out", str(rec)]) == 0
    pairs = np.load(rec.with_suffix(".npy"))
    assert pairs.shape == (16, 1, 16, 16)  # 8 inputs and their 8 reconstructions, row by row (4 per row)
    run = load_run(run_dir)
    x = load_split(run.config.data, "test").x[:8]
    assert np.array_equal(pairs[0:4], x[0:4].numpy()) and np.array_equal(pairs[8:12], x[4:8].numpy())
    assert np.allclose(pairs[4:8], run.model.reconstruct(x[0:4]).numpy(), atol=1e-6)
    enc = tmp_path / "z.npy"
    assert main(["encode", str(run_dir), "--split", "val", "--out", str(enc)]) == 0
    z = np.load(enc)
    assert z.shape[1:] == (2, 3) and np.isfinite(z).all()


@pytest.mark.parametrize("argv, needle", [
    (["evaluate", "/nonexistent/run"], "does not exist"),
    (["train", "--latent-dim", "0"], "latent-dim"),
    (["train", "--likelihood", "poisson"], "likelihood"),
    (["train", "--config", "/nonexistent.toml"], "nonexistent.toml"),
    (["train", "--data", "folder"], "--data-dir"),
])
def test_bad_input_gives_a_clear_error(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err


def test_evaluate_k_must_be_positive(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--k", "0"]) == 2
    assert "--k" in capsys.readouterr().err


@pytest.mark.parametrize("extra, needle", [(["--device", "cuda:7"], "device"), (["--device", "banana"], "device")])
def test_unusable_device_is_a_clear_error(tmp_path, extra, needle, capsys):
    import torch

    if "cuda" in extra[1] and torch.cuda.device_count() > 7:
        pytest.skip("this machine has the device")
    assert main(["train", *TINY, *extra, "--out", str(tmp_path / "r")]) == 2
    assert needle in capsys.readouterr().err


def test_tensorboard_without_the_package_is_a_clear_error(tmp_path, capsys):
    try:
        import tensorboard  # noqa: F401

        pytest.skip("tensorboard is installed")
    except ImportError:
        pass
    assert main(["train", *TINY, "--tensorboard", "--out", str(tmp_path / "r")]) == 2
    assert "pip install tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before anything was written


def test_many_files_of_one_folder_are_named_by_the_first_and_last():
    from pathlib import Path

    from vaekit.cli.common import files_written

    wavs = [Path(f"out/{i:02d}.wav") for i in range(64)]
    rows = [Path(f"out_row_{i:02d}.wav") for i in range(2)]
    line = files_written([Path("out.png"), *wavs, *rows, Path("out.npy")])
    assert line == ("out.png and out/00.wav … out/63.wav (64 .wav files) and out_row_00.wav and out_row_01.wav "
                    "and out.npy")
    assert files_written([Path("a.png"), Path("a.npy")]) == "a.png and a.npy"
