"""Sound measures: the judge separates pitches, survives JSON, ignores padding and small shifts; the quality
measures are 0 for identical clips and agree with `metrics`; the Griffin-Lim floor of a tone is near its
clip; judged accuracies on hand-made inputs; the judge's accuracies on spoken-digits (skipped without it)."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from vaekit.config import DataConfig
from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds import tones
from vaekit.kinds.sounds.corpus import read_clips, spoken_digits_folder
from vaekit.kinds.sounds.measures import (
    Judge,
    JudgeFeatures,
    clip_features,
    conversion_measures,
    griffin_lim_floor,
    judged_accuracy,
    reconstruction_measures,
)
from vaekit.kinds.sounds.measures.judge import deltas
from vaekit.kinds.sounds.metrics import log_spectral_distance, multi_resolution_stft, spectral_convergence_wave
from vaekit.kinds.sounds.spectral import SpectrogramSpec, magnitude

RATE = 8000
SPEC = SpectrogramSpec(sample_rate=RATE, n_fft=256, hop_length=64, win_length=200, n_mels=32)


def tone_split(split: str) -> object:
    return read_clips(DataConfig(dataset="tones", subset=320, sample_rate=RATE, clip_seconds=0.25), split)


_JUDGE: dict = {}


def tone_judge() -> Judge:
    """A pitch judge trained on 256 tones, fitted once for the module."""
    if "judge" not in _JUDGE:
        train = tone_split("train")
        _JUDGE["judge"] = Judge.fit(train.waves, train.labels, RATE, len(tones.NOTES))
    return _JUDGE["judge"]


def note(pitch: int, waveform: int = 1, envelope: int = 1, seconds: float = 0.25, rate: int = RATE) -> torch.Tensor:
    """One clip (S,) of a note of the tones grid, without jitter, at -12 dBFS."""
    return torch.from_numpy(tones.synthesize([[pitch, waveform, envelope, 2]], rate, seconds)[0])


def test_judge_separates_pitches_of_held_out_tones():
    judge, test = tone_judge(), tone_split("test")
    assert judge.n_classes == 8
    assert judge.accuracy(test.waves, test.labels) > 0.9  # chance: 1/8
    train = tone_split("train")
    assert judge.accuracy(train.waves, train.labels) > 0.95


def test_judge_json_round_trip_predicts_identically():
    judge, test = tone_judge(), tone_split("test")
    back = Judge.from_dict(json.loads(json.dumps(judge.to_dict())))
    assert torch.equal(back.logits(test.waves), judge.logits(test.waves))
    assert back.features == judge.features and back.sample_rate == RATE


def test_features_ignore_padding_and_a_small_shift():
    cfg = JudgeFeatures()
    clip = note(3)                                                                # (S,)
    shifted = torch.cat([torch.zeros(24), clip[:-24]])                            # 3 ms later
    padded = torch.cat([clip, torch.zeros(RATE // 4)])                            # 0.25 s of silence after it
    other = note(4)                                                               # the next note up
    f = clip_features(torch.stack([clip, shifted, other]), RATE, cfg)
    f_pad = clip_features(padded[None], RATE, cfg)[0]
    step = torch.linalg.vector_norm(f[2] - f[0])  # what one semitone changes
    assert torch.linalg.vector_norm(f[1] - f[0]) < 0.1 * step
    assert torch.linalg.vector_norm(f_pad - f[0]) < 0.02 * step
    assert f.shape == (3, cfg.size()) == (3, 40 * 8)


def test_deltas_of_a_ramp_are_its_slope():
    c = torch.arange(10.0).repeat(2, 1) * torch.tensor([[1.0], [-3.0]])           # (M=2, T=10)
    d = deltas(c)
    assert torch.allclose(d[:, 2:-2], torch.tensor([[1.0], [-3.0]]).expand(2, 6))
    assert d[0, 0].item() == pytest.approx((1 * 1 + 2 * 2) / 10)                  # edge frame repeated: c_-1 = c_0


def test_judge_errors():
    w = torch.randn(4, 2000)
    with pytest.raises(ConfigError, match=r"labels in 0\.\.n_classes-1"):
        Judge.fit(w, torch.tensor([0, 1, 2, 3]), RATE, 3)
    with pytest.raises(DataError, match="one integer class per clip"):
        Judge.fit(w, torch.tensor([0.0, 1.0, 0.0, 1.0]), RATE, 2)
    with pytest.raises(DataError, match=r"non-finite.*clip 2"):
        clip_features(torch.cat([w[:2], torch.full((1, 2000), math.nan)]), RATE)
    with pytest.raises(DataError, match="longer than 128 samples"):
        clip_features(torch.randn(2, 100), RATE)
    with pytest.raises(DataError, match="not a saved sound judge"):
        Judge.from_dict({"weight": [[1.0]]})
    bad = tone_judge().to_dict()
    bad["weight"] = bad["weight"][:-1]
    with pytest.raises(DataError, match="do not fit"):
        Judge.from_dict(bad)


def clips(seed: int, n: int = 3, length: int = 4000) -> torch.Tensor:
    return 0.1 * torch.randn(n, length, generator=torch.Generator().manual_seed(seed))


def test_quality_is_zero_for_identical_clips():
    x = clips(0)
    m = reconstruction_measures(x, x, SPEC)
    assert (m["lsd_db"], m["spectral_convergence"], m["mr_stft"], m["n"]) == (0.0, 0.0, 0.0, 3)


def test_quality_matches_metrics():
    x, y = clips(1), clips(2)
    m = reconstruction_measures(x, y, SPEC, active_db=None)
    mag, mag_hat = magnitude(x, SPEC), magnitude(y, SPEC)
    assert m["lsd_db"] == pytest.approx(float(log_spectral_distance(mag, mag_hat).mean()), rel=1e-6)
    assert m["spectral_convergence"] == pytest.approx(float(spectral_convergence_wave(x, y, SPEC).mean()), rel=1e-6)
    assert m["mr_stft"] == pytest.approx(float(multi_resolution_stft(x, y).mean()), rel=1e-6)
    # noise has no frame 60 dB below its loudest: the default mask keeps every frame
    assert reconstruction_measures(x, y, SPEC)["lsd_db"] == pytest.approx(m["lsd_db"], rel=1e-6)


def test_lsd_mask_leaves_out_the_silence_padding():
    x, y = clips(3, length=2048), clips(4, length=2048)
    pad = torch.zeros(3, 2048)
    xp, yp = torch.cat([x, pad], 1), torch.cat([y, 1e-3 * clips(5, length=2048)], 1)  # faint noise in the padding
    masked = reconstruction_measures(xp, yp, SPEC)["lsd_db"]
    everything = reconstruction_measures(xp, yp, SPEC, active_db=None)["lsd_db"]
    mag, mag_hat = magnitude(xp, SPEC), magnitude(yp, SPEC)                            # (3, 129, 65)
    # frames 0..33 hold sound: frame t's 200-sample window spans 64 t - 100 .. 64 t + 100, so frame 33's
    # still reaches 36 samples into the clip, and frame 34's starts after its end
    assert masked == pytest.approx(float(log_spectral_distance(mag[..., :34], mag_hat[..., :34]).mean()), rel=1e-5)
    assert everything > 2 * masked  # the 31 padding frames compare faint noise with the floor, far apart
    with pytest.raises(ConfigError, match="active_db"):
        reconstruction_measures(xp, yp, SPEC, active_db=0.0)


def test_griffin_lim_floor_of_a_tone_is_close():
    # 64 mel filters over 0-4 kHz: below 1 kHz each triangle spans ~4 of the 15.6 Hz STFT bins, so the
    # mel inversion keeps most of the sine's peak (with coarser filters it smears it: module docstring)
    spec = SpectrogramSpec(sample_rate=RATE, n_fft=512, hop_length=64, win_length=256, n_mels=64)
    x = note(5, waveform=0, envelope=2, seconds=0.3)[None]                         # a flat A4 sine
    g = torch.Generator().manual_seed(0)
    waves, floor = griffin_lim_floor(x, spec, n_iter=60, generator=g)
    _, one = griffin_lim_floor(x, spec, n_iter=1, generator=torch.Generator().manual_seed(0))
    assert waves.shape == x.shape
    assert floor["spectral_convergence"] < 0.15
    assert floor["spectral_convergence"] < 0.5 * one["spectral_convergence"]
    assert floor["mr_stft"] < one["mr_stft"]


def test_judged_accuracy_on_hand_made_clips():
    judge = tone_judge()
    pitches = torch.tensor([0, 2, 4, 6, 7, 7])
    made = torch.stack([note(int(p)) for p in pitches])                            # (6, S)
    assert torch.equal(judge.predict(made), pitches)                               # the judge hears them right
    real = torch.stack([note(p, waveform=2) for p in (1, 3, 5, 7)])
    real_labels = torch.tensor([1, 3, 5, 0])                                       # the last is mislabelled
    targets = torch.tensor([0, 2, 4, 5, 7, 3])                                     # 4 of 6 made as intended
    m = conversion_measures(made, targets, judge, real, real_labels)
    assert m["target_accuracy"] == pytest.approx(100 * 4 / 6)
    assert m["real_accuracy"] == 75.0 and m["chance"] == 12.5 and (m["n"], m["n_real"]) == (6, 4)
    assert m["per_class"] == [100.0, None, 100.0, 0.0, 100.0, 0.0, None, 100.0]
    same = judged_accuracy(made, pitches, judge, real, real_labels)
    assert same["accuracy"] == 100.0 and "target_accuracy" not in same
    with pytest.raises(DataError, match=r"classes must lie in 0..7"):
        judged_accuracy(made, pitches + 3, judge, real, real_labels)


def spoken_digits() -> None:
    try:
        spoken_digits_folder(None)
    except DataError:
        pytest.skip("spoken-digits not found: set VAEKIT_DATA to a folder holding spoken-digits/")


@pytest.mark.slow
def test_digit_judge_on_unseen_speakers():
    """Measured: 100.0 % of the 320 test clips (8 unseen speakers), in ~10 s."""
    spoken_digits()
    cfg = DataConfig(dataset="spoken-digits")
    train, test = read_clips(cfg, "train"), read_clips(cfg, "test")
    judge = Judge.fit(train.waves, train.labels, train.sample_rate, 10)
    assert judge.accuracy(test.waves, test.labels) >= 0.97


@pytest.mark.slow
def test_speaker_judge_on_an_unseen_rendition():
    """Training speakers only (the test split's voices are never in training): renditions 0-2 train, 3 test.
    Measured: 70.2 % of 640 clips, 64 speakers (chance 1.6 %), in ~10 s."""
    spoken_digits()
    train = read_clips(DataConfig(dataset="spoken-digits"), "train")
    speaker = train.factors[:, train.factor_names.index("speaker")]
    rendition = torch.tensor([int(re.search(r"_r(\d+)\.", f).group(1)) for f in train.files])
    fit, held = rendition <= 2, rendition == 3
    judge = Judge.fit(train.waves[fit], speaker[fit], train.sample_rate, 80)
    assert judge.accuracy(train.waves[held], speaker[held]) >= 0.65
