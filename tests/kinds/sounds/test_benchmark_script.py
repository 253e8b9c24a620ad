"""benchmarks/sounds.py --smoke and benchmarks/sound_throughput.py --smoke: every model is trained and measured
on tones, the figures agree with one another, the tables land in the page given; the throughput loops train
the same network. One torch thread: on a loaded 2-core host, two threads of tiny ops spin against each other
(benchmarks/sounds.py --smoke alone took 79 s with two; this whole module takes 42 s with one)."""

from __future__ import annotations

import importlib
import json
import statistics
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
sounds = importlib.import_module("sounds")  # benchmarks/sounds.py
sound_throughput = importlib.import_module("sound_throughput")  # benchmarks/sound_throughput.py


@pytest.fixture(scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, one_thread):
    root = tmp_path_factory.mktemp("bench")
    doc = root / "results.md"
    doc.write_text("# Results\n\nText that stays.\n")
    results = sounds.main(["--smoke", "--write", "--doc", str(doc), "--runs", str(root / "runs"),
                           "--json", str(root / "results.json")])
    return results, root, doc


def test_every_model_is_trained_and_evaluated(smoke):
    results, root, _ = smoke
    assert set(results) == {"vae", "cvae", "floor", "references"}  # tones: no speaker model
    assert json.loads((root / "results.json").read_text())["vae"]["n"] == 24
    bins = 128 * 8  # 0.25 s at 8 kHz: 2,000 samples, 11 frames, cut to 8
    for key in ("vae", "cvae"):
        r = results[key]
        assert (r["epochs"], r["k"], r["n"], r["latent_dim"]) == (2, 5, 24, 4)
        assert r["nats_per_bin"] == pytest.approx(-r["log_likelihood"] / bins, rel=1e-9)
        assert r["log_likelihood"] >= r["elbo"] - 1.0  # the k = 5 bound is at least the ELBO, up to the draws
        assert r["kl"] > 0 and 0 <= r["active_units"] <= 4
    cfg = json.loads((root / "runs" / "cvae" / "config.json").read_text())
    assert cfg["model"]["conditional"] and cfg["model"]["n_classes"] == 8  # the pitch
    assert not json.loads((root / "runs" / "vae" / "config.json").read_text())["model"]["conditional"]


def test_reconstructions_are_read_beside_the_floor(smoke):
    results = smoke[0]
    floor = results["floor"]
    assert floor["n"] == 24 and floor["spectral_convergence"] < 0.5
    for key in ("vae", "cvae"):
        q = results[key]["quality"]
        assert q["n"] == 24
        # two epochs of a 4-latent model: worse than inverting the true log-mel on every measure
        assert q["spectral_convergence"] > floor["spectral_convergence"] and q["lsd_db"] > floor["lsd_db"]
        assert q["mr_stft"] > floor["mr_stft"]


def test_the_judges_figures(smoke):
    results = smoke[0]
    ref = results["references"]
    assert ref["content"] >= 90.0 and ref["content_chance"] == 12.5  # the pitch judge on 24 real test tones
    c = results["cvae"]
    assert c["samples"]["n"] == 16 and c["samples"]["chance"] == 12.5  # 2 samples of each of 8 pitches
    conv = c["conversion"]
    assert conv["n"] == 24 and 0.0 <= conv["target_accuracy"] <= 100.0
    assert conv["real_accuracy"] == pytest.approx(ref["content"])


def test_the_tables_land_in_the_page_given(smoke):
    text = smoke[2].read_text()
    assert text.startswith("# Results\n\nText that stays.\n")
    assert "<!-- sound-results:start -->" in text and "<!-- sound-results:end -->" in text
    assert "| VAE | " in text and "| conditional VAE on the pitch | " in text and "--smoke" in text
    assert "| Griffin-Lim floor (true log-mel) |" in text
    assert "| conversion to another pitch: pitch judge's target accuracy | " in text


def test_smoke_figures_never_overwrite_the_real_page(capsys):
    with pytest.raises(SystemExit):
        sounds.parse(["--smoke", "--write"])
    assert "--smoke --write needs an explicit --doc" in capsys.readouterr().err


def test_throughput_smoke_trains_the_same_network_in_both_loops(one_thread):
    res = sound_throughput.main(["--smoke"])
    assert res["same_parameter_count"] and res["clips"] == 200 and res["shape"] == [1, 128, 64]
    assert len(res["ratios"]) == 2 and res["ratio"] == pytest.approx(statistics.median(res["ratios"]))
    assert all(r > 0 for r in res["rounds"]["vaekit"] + res["rounds"]["textbook"])
    assert res["load"]["clips"] == 200 and res["load"]["log_mel_seconds"] > 0


def test_the_textbook_network_is_vaekits_default_layer_for_layer():
    from vaekit.config import ModelConfig
    from vaekit.kinds import kind_of
    from vaekit.model import build_model

    kind = kind_of("tones")
    cfg = ModelConfig()
    kind.fill_defaults(cfg)
    vk = build_model(cfg, (1, 128, 64), kind=kind)
    tb = sound_throughput.TextbookConvVAE(128, 64, **sound_throughput.DEFAULT)
    shapes = lambda m: sorted(tuple(p.shape) for p in m.parameters())  # noqa: E731
    assert shapes(vk) == shapes(tb)
    x = torch.randn(3, 1, 128, 64)
    assert tb(x).shape == () and torch.isfinite(tb(x))


def test_speaker_conversions_read_training_voices_and_convert_to_another(monkeypatch):
    # the speaker-conditional model reads each source with its own, trained speaker label: the sources are
    # the training speakers' held-out rendition 3, and every target is another training speaker
    sj = importlib.import_module("sound_judging")
    from types import SimpleNamespace

    from vaekit.kinds.sounds.loading import SoundData

    speakers, digits, reps = torch.tensor([3, 5, 9]), 2, 4
    rows = [(s, d, r) for s in speakers.tolist() for d in range(digits) for r in range(reps)]
    files = [f"{d}/{d}_s{s:02d}_r{r}.flac" for s, d, r in rows]
    factors = torch.tensor([(d, s) for s, d, _ in rows])  # (N, 2)
    x = torch.arange(len(rows), dtype=torch.float32).reshape(-1, 1, 1, 1)
    train = SoundData(x, factors[:, 1], binarize="none", is_image=False, kind="sounds", factors=factors,
                      factor_names=["digit", "speaker"], files=files)
    monkeypatch.setattr("vaekit.kinds.kind_of", lambda name: SimpleNamespace(load_split=lambda *a: train))
    seen = {}

    def convert(xb, y, target):
        seen.setdefault("x", []).append(xb.flatten())
        seen.setdefault("y", []).append(y)
        seen.setdefault("t", []).append(target)
        return xb

    monkeypatch.setattr(sj, "decoded_waves", lambda make, n, stats: make(slice(0, n)).reshape(n, 1))
    judged = {}
    monkeypatch.setattr("vaekit.kinds.sounds.measures.conversion_measures",
                        lambda made, target, *a: judged.update(target=target) or {"target_accuracy": 0.0})
    monkeypatch.setattr("vaekit.kinds.sounds.measures.judged_accuracy",
                        lambda made, labels, *a: judged.update(digit=labels) or {"accuracy": 0.0})
    run = SimpleNamespace(config=SimpleNamespace(data=SimpleNamespace(dataset="spoken-digits")), data_stats={},
                          model=SimpleNamespace(convert=convert))
    heard = {}
    judge = SimpleNamespace(accuracy=lambda waves, labels: heard.update(labels=labels) or 0.25)
    out = sj.speaker_conversions(run, {"train_speakers": speakers.tolist(), "speaker": judge, "content": None,
                                       "held_waves": None, "held_speakers": None, "held_digits": None}, seed=0)
    (sources, own), (y, y_own), (t, t_own) = (seen[k] for k in ("x", "y", "t"))  # the conversions, then own voice
    sources = sources.long()
    assert sorted(sources.tolist()) == [i for i, (_, _, r) in enumerate(rows) if r == 3]
    # the reference: the same clips decoded in their own voice, judged against their own speaker
    assert torch.equal(own, sources.float()) and torch.equal(t_own, y_own) and torch.equal(y_own, y)
    assert torch.equal(heard["labels"], y) and out["reconstructed"] == pytest.approx(25.0)
    assert torch.equal(y, factors[sources, 1])                  # each source read with its own speaker
    assert bool((t != y).all()) and set(t.tolist()) <= set(speakers.tolist())
    assert torch.equal(judged["target"], t) and torch.equal(judged["digit"], factors[sources, 0])
    assert out["chance"] == pytest.approx(50.0)                # 1 / (3 - 1) other voices
