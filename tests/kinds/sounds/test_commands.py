"""The commands on a sound run: sample, reconstruct, interpolate and convert write spectrogram PNGs and WAVs
that read back at the run's rate and length, the report plays its items, evaluate reports nats per bin, and
bad audio names its file."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import vaekit
from tests.kinds.sounds.test_kind import tiny_sound_config
from vaekit.cli import main
from vaekit.kinds.sounds import show
from vaekit.kinds.sounds.audio import write_wav
from vaekit.kinds.sounds.show import ROW_GAP_SECONDS

CLIP = 3000  # samples of a 0.25 s tone cut to 16 frames


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sounds")
    plain = vaekit.train(tiny_sound_config(epochs=1), out=root / "plain", callbacks=[])
    cfg = tiny_sound_config(epochs=1)
    cfg.model.conditional = True
    cond = vaekit.train(cfg, out=root / "cond", callbacks=[])
    return {"plain": str(plain.dir), "cond": str(cond.dir)}


def read(path):
    data, rate = sf.read(str(path))
    return data, rate


def test_sample_writes_a_png_and_a_wav_per_item_and_per_row(runs, tmp_path, capsys):
    out = tmp_path / "samples.png"
    assert main(["sample", runs["plain"], "-n", "6", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "samples.npy").exists()
    items = sorted((tmp_path / "samples").glob("*.wav"))
    assert [p.name for p in items] == [f"{i:02d}.wav" for i in range(6)]
    for p in items:
        data, rate = read(p)
        assert rate == 16000 and data.shape == (CLIP,) and np.abs(data).max() <= 1.0
    rows = sorted(tmp_path.glob("samples_row_*.wav"))  # 6 items, 3 to a row (ceil(sqrt 6))
    gap = round(ROW_GAP_SECONDS * 16000)
    assert [read(p)[0].shape for p in rows] == [(3 * CLIP + 2 * gap,)] * 2
    row0, first = read(rows[0])[0], read(items[0])[0]
    assert np.array_equal(row0[:CLIP], first) and not row0[CLIP:CLIP + gap].any()
    assert "samples.png" in capsys.readouterr().out


def test_reconstruct_interpolate_and_convert_write_rows(runs, tmp_path):
    assert main(["reconstruct", runs["plain"], "-n", "4", "--out", str(tmp_path / "rec.png")]) == 0
    pairs = np.load(tmp_path / "rec.npy")  # rows of inputs, then rows of their reconstructions
    assert len(list((tmp_path / "rec").glob("*.wav"))) == len(pairs) >= 4
    assert main(["interpolate", runs["plain"], "--pairs", "2", "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    assert len(list(tmp_path.glob("i_row_*.wav"))) == 2
    assert read(tmp_path / "i_row_00.wav")[0].shape == (5 * CLIP + 4 * round(ROW_GAP_SECONDS * 16000),)
    assert main(["convert", runs["cond"], "-n", "2", "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").exists() and len(list(tmp_path.glob("c_row_*.wav"))) == 2
    assert np.load(tmp_path / "c.npy").shape == (2, 10, 1, 128, 16)  # input, reconstruction, 8 pitches


def test_reconstruct_reads_new_clips_from_a_folder(runs, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    t = np.arange(5000) / 16000
    for i, hz in enumerate((262.0, 392.0)):
        write_wav(folder / f"{i}.wav", 0.3 * np.sin(2 * np.pi * hz * t), 16000)
    assert main(["reconstruct", runs["plain"], "--data", str(folder), "--out", str(tmp_path / "r.png")]) == 0
    assert np.load(tmp_path / "r.npy").shape == (4, 1, 128, 16)  # 2 inputs, 2 reconstructions


def test_evaluate_reports_nats_per_bin(runs):
    assert main(["evaluate", runs["plain"], "--k", "4", "--limit", "8", "--no-compile"]) == 0
    res = json.loads((Path(runs["plain"]) / "metrics.json").read_text())
    assert res["unit"] == "nats/bin"
    assert res["nats_per_bin"] == -res["log_likelihood"] / (128 * 16)
    assert res["elbo_nats_per_bin"] == -res["elbo"] / (128 * 16)


def test_the_report_plays_its_items(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(show, "MAX_PLAYERS", 3)  # 3 players a grid: the cap, and a quick report
    out = tmp_path / "report.html"
    assert main(["report", runs["plain"], "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    players = re.findall(r'<audio controls preload="none"[^>]*src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"', page)
    # samples, reconstructions, interpolations (of inputs, of prior draws), traversals, manifold
    assert len(players) == 3 * 6
    wav, rate = sf.read(io.BytesIO(base64.b64decode(players[0])))
    assert rate == 16000 and wav.shape == (CLIP,)
    assert "samples: the first 3 of 64 items have a player" in page


def test_bad_audio_in_a_folder_names_the_file(tmp_path, capsys):
    for cls in ("a", "b"):
        (tmp_path / "data" / cls).mkdir(parents=True)
        for i in range(3):
            write_wav(tmp_path / "data" / cls / f"{i}.wav", np.zeros(4000) + 0.1 * (i + 1), 16000)
    bad = tmp_path / "data" / "b" / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    code = main(["train", "--data", "audio", "--data-dir", str(tmp_path / "data"), "--epochs", "1",
                 "--no-compile", "--no-progress", "--no-report", "--out", str(tmp_path / "run")])
    assert code == 2
    assert "broken.wav" in capsys.readouterr().err
