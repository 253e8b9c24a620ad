"""benchmarks/videos.py --smoke and benchmarks/video_throughput.py --smoke: every model is trained and measured,
the figures agree with one another and land in the page given, and the throughput loops train the same layers."""

from __future__ import annotations

import importlib
import json
import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
videos = importlib.import_module("videos")  # benchmarks/videos.py
video_throughput = importlib.import_module("video_throughput")  # benchmarks/video_throughput.py


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    doc = root / "results.md"
    doc.write_text("# Results\n\nText that stays.\n")
    results = videos.main(["--smoke", "--write", "--doc", str(doc), "--json", str(root / "results.json")])
    return results, root, doc


def test_every_model_is_measured_and_the_page_gets_its_tables(smoke):
    results, root, doc = smoke
    for key in videos.MODELS:
        r = results[key]
        assert r["nats_per_frame"] == pytest.approx(-r["log_likelihood"] / 4)  # smoke videos: 4 frames
        # k = 4 on an untrained model whose q is near p: the bound is tight, the draws' noise ~0.01 nats
        assert r["log_likelihood"] >= r["elbo"] - 0.1
    assert results["frames"]["latent_dim"] == 4 * 2 and results["dsae"]["latent_dim"] == 4 + 4 * 2
    assert set(results["swaps"]) == set(videos.FACTORS["moving-shapes"])
    assert all(0 <= v <= 1 for s in results["swaps"].values() for k, v in s.items() if k != "what")
    assert json.loads((root / "results.json").read_text())["dsae"]["k"] == 4
    text = doc.read_text()
    assert text.startswith("# Results\n\nText that stays.") and "<!-- video-results-moving-shapes:start -->" in text
    assert "| image VAE, frame by frame |" in text and "| swap: f of video a" in text


def test_smoke_figures_never_overwrite_the_real_page(capsys):
    with pytest.raises(SystemExit):
        videos.parse(["--smoke", "--write"])
    assert "--smoke --write needs an explicit --doc" in capsys.readouterr().err


def test_throughput_smoke_trains_the_same_layers_in_both_loops():
    res = video_throughput.main(["--smoke"])
    vaekit_params, textbook_params = res["parameters"]
    lstms = 3  # nn.LSTM keeps two biases a gate: 4 H more a direction (two encoder directions and the prior)
    assert textbook_params - vaekit_params == lstms * 4 * video_throughput.SMOKE_MODEL["rnn_hidden"]
    assert res["videos"] > 0 and res["ratio"] == pytest.approx(statistics.median(res["ratios"]))
