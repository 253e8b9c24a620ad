"""The sound kind: standardised log-mel items and their exact inverse, frame counts that are multiples of 8,
Griffin-Lim back to a tone of the right pitch, the kind's defaults, a short training that learns, a save/load
round trip, and spoken-digits' splits (with VAEKIT_DATA)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.data import random_items
from vaekit.errors import ConfigError, DataError
from vaekit.kinds import kind_of, load_split, with_kind_defaults
from vaekit.kinds.sounds.features import (
    clip_frames,
    clips_to_items,
    items_to_log_mel,
    items_to_waves,
    log_mels,
    sound_stats,
    spec_of,
)
from vaekit.kinds.sounds.loading import SoundData
from vaekit.kinds.sounds.spectral import SpectrogramSpec
from vaekit.runs.metrics import read_metrics

RATE = 16000


def tones(**kw) -> DataConfig:
    return DataConfig(**{"dataset": "tones", "subset": 100, "clip_seconds": 0.25, **kw})


def tiny_sound_config(**train: object) -> Config:
    """Tones of 0.25 s (items (1, 128, 16)), a small conv net: an epoch takes well under a second."""
    t = {"epochs": 2, "batch_size": 16, "lr": 3e-3, "progress": False, "compile": False, "grid": 4,
         "report": False, **train}
    return Config(data=DataConfig(dataset="tones", subset=160, clip_seconds=0.25),
                  model=ModelConfig(arch="conv", channels_base=8, hidden=[32], latent_dim=4),
                  train=TrainConfig(**t))


def test_items_are_standardised_on_the_training_split():
    train = load_split(tones(), "train")
    assert isinstance(train, SoundData) and train.kind == "sounds" and not train.is_image
    assert train.x.shape == (80, 1, 128, 16)  # 0.25 s = 4000 samples: 21 frames, cut to 16
    assert abs(float(train.x.mean())) < 1e-5 and float(train.x.std()) == pytest.approx(1.0, abs=1e-4)
    assert train.stats["clip_samples"] == 3000 and train.stats["frames"] == 16
    assert train.labels.dtype == torch.int64 and train.labels.shape == (80,)
    assert train.factor_names == ["pitch", "waveform", "envelope", "loudness"]
    assert torch.equal(train.labels, train.factors[:, 0])  # the label is the pitch factor
    val = load_split(tones(), "val", stats=train.stats)
    assert val.stats is train.stats and val.x.shape == (10, 1, 128, 16)
    sub = train.take(5)
    assert torch.equal(sub.factors, train.factors[:5]) and len(sub) == 5
    drawn = random_items(train, 7, seed=3)  # select(idx): each item keeps its own factors
    assert len(drawn) == 7 and drawn.factors.shape == (7, 4)
    assert torch.equal(drawn.labels, drawn.factors[:, 0])
    picked = [int(i) for i in torch.nonzero((train.x[:, None] == drawn.x[None]).flatten(2).all(-1))[:, 0]]
    assert torch.equal(drawn.factors, train.factors[picked])
    with pytest.raises(DataError, match="needs the training split's data stats"):
        load_split(tones(), "test")


def test_items_to_log_mel_inverts_clips_to_items():
    spec = SpectrogramSpec()
    waves = torch.from_numpy(np.random.default_rng(0).normal(0, 0.1, (5, 3000)).astype(np.float32))
    values = log_mels(waves, spec)  # (5, 128, 16)
    stats = sound_stats(values, spec, 3000, None)
    items = clips_to_items(waves, stats)
    assert items.shape == (5, 1, 128, 16)
    assert torch.allclose(items_to_log_mel(items, stats), values, atol=1e-5)
    assert stats["log_mel_mean"] == pytest.approx(float(values.double().mean()))
    with pytest.raises(DataError, match=r"expected clips \(N, 3000\)"):
        clips_to_items(waves[:, :2999], stats)


def test_frames_are_the_largest_multiple_of_8():
    spec = SpectrogramSpec()
    assert clip_frames(spec, 12800) == 64  # spoken digits, 0.8 s: 65 frames
    assert clip_frames(spec, 8000) == 40  # tones, 0.5 s: 41 frames
    assert spec.samples_for_frames(64) == 12600
    with pytest.raises(ConfigError, match="at least 8"):
        clip_frames(spec, 1000)  # 6 frames


def test_griffin_lim_from_items_of_a_sine_recovers_its_pitch():
    spec = SpectrogramSpec()
    t = torch.arange(7800) / RATE
    sine = (0.5 * torch.sin(2 * math.pi * 440.0 * t))[None]  # (1, 7800): A4
    stats = sound_stats(log_mels(sine, spec), spec, 7800, None)
    wave = items_to_waves(clips_to_items(sine, stats), stats)
    assert wave.shape == (1, 7800)
    spectrum = np.abs(np.fft.rfft(wave[0].numpy() * np.hanning(7800), 16 * 7800))
    peak_hz = np.argmax(spectrum) * RATE / (16 * 7800)
    # within a quarter of a semitone (6.4 Hz; measured 3.8 Hz low): the mel filters, 47 Hz apart here, blur
    # the peak that the mel inversion rebuilds
    assert abs(peak_hz - 440.0) < 6.0
    rms = float(wave.pow(2).mean().sqrt())
    assert 0.2 < rms < 0.5  # the sine's 0.354, give or take the mel inversion's smearing
    assert torch.equal(items_to_waves(clips_to_items(sine, stats), stats), wave)  # fixed phases: reproducible


def test_the_kind_defaults():
    cfg = with_kind_defaults(Config(data=DataConfig(dataset="tones")))
    assert (cfg.model.arch, cfg.model.likelihood, cfg.model.variance) == ("conv", "gaussian", "global")
    assert cfg.model.latent_dim == 32 and cfg.data.subset == 2000
    kept = with_kind_defaults(Config(data=DataConfig(dataset="tones", subset=500), model=ModelConfig(arch="resnet")))
    assert kept.data.subset == 500 and kept.model.arch == "resnet"
    # a value the user gave stays, even vaekit's own default (--model mlp, --subset 20000)
    given = with_kind_defaults(Config(data=DataConfig(dataset="tones")), {"model.arch", "data.subset"})
    assert (given.model.arch, given.data.subset, given.model.likelihood) == ("mlp", 20000, "gaussian")
    given.model.arch = "mlp"
    assert with_kind_defaults(given).model.arch == "mlp"  # filled once: a second call changes nothing
    assert with_kind_defaults(Config()).data.subset == 20000  # images keep theirs
    with pytest.raises(ConfigError, match="--likelihood bernoulli does not fit sounds"):
        kind_of("tones").check(ModelConfig(arch="conv", likelihood="bernoulli"))
    with pytest.raises(ConfigError, match="hop-length=800"):
        DataConfig(dataset="tones", hop_length=800)
    assert spec_of(DataConfig(dataset="tones", n_mels=0)).bins == 513


def test_a_short_training_lowers_the_validation_loss(tmp_path):
    # 2 epochs of 128 tones (items of 2,048 bins): the validation ELBO rises by over 200 nats from the initial
    # model, the decoder's output bias at the mean item (measured 330 nats: -2858 -> -2528)
    run = vaekit.train(tiny_sound_config(), out=tmp_path / "run")
    records = read_metrics(run.dir / "metrics.jsonl")
    init = next(r for r in records if r["kind"] == "init")
    epochs = [r for r in records if r["kind"] == "epoch"]
    assert epochs[-1]["val_elbo"] > init["val_elbo"] + 200
    assert epochs[-1]["val_elbo"] > epochs[0]["val_elbo"]
    for name in ("samples.png", "samples/00.wav", "samples_row_00.wav", "recon/epoch_0002/00.wav"):
        assert (run.dir / name).is_file(), name  # the per-epoch pictures, heard too
    for latest, epoch in (("samples.png", "samples/epoch_0002.png"), ("samples/03.wav", "samples/epoch_0002/03.wav"),
                          ("reconstructions_row_01.wav", "recon/epoch_0002_row_01.wav")):
        assert (run.dir / latest).read_bytes() == (run.dir / epoch).read_bytes()  # the last epoch's, copied
    loaded = vaekit.load(run.dir)
    z = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(run.model.decode(z), loaded.decode(z))
    stats = load_split(run.config.data, "train").stats
    assert torch.equal(items_to_waves(run.model.decode(z), stats), items_to_waves(loaded.decode(z), stats))


@pytest.mark.skipif(not os.environ.get("VAEKIT_DATA"), reason="spoken-digits needs VAEKIT_DATA")
def test_spoken_digits_splits():
    cfg = DataConfig(dataset="spoken-digits")
    train = load_split(cfg, "train")
    val, test = (load_split(cfg, s, stats=train.stats) for s in ("val", "test"))
    assert (len(train), len(val), len(test)) == (2560, 320, 320)
    assert train.event_shape == val.event_shape == (1, 128, 64) and train.stats["clip_samples"] == 12600
    assert sorted(set(train.labels.tolist())) == list(range(10))
    assert train.label_names[0] == "zero" and "speaker" in train.factor_names
