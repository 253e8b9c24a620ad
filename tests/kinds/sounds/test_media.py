"""Sound items as data URLs (`show.sounds_media`, `SoundKind.item_media`): a spectrogram PNG on the run's one
dB scale, so items pictured apart compare, and the WAV of Griffin-Lim's sound."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from vaekit.errors import ConfigError
from vaekit.kinds import kind_of
from vaekit.kinds.sounds.features import clips_to_items, items_to_waves, log_mels, sound_stats
from vaekit.kinds.sounds.show import PREVIEW_ITERATIONS, run_db_range, sounds_media
from vaekit.kinds.sounds.spectral import SpectrogramSpec

RATE = 16000


@pytest.fixture(scope="module")
def tone():
    """Items (2, 1, 128, 16) of a 440 Hz sine and the stats measured on it."""
    spec = SpectrogramSpec()
    t = torch.arange(3000) / RATE
    waves = torch.stack([0.5 * torch.sin(2 * math.pi * 440.0 * t), 0.1 * torch.sin(2 * math.pi * 880.0 * t)])
    stats = sound_stats(log_mels(waves, spec), spec, 3000, None)
    return clips_to_items(waves, stats), stats


def decoded(url: str, mime: str) -> bytes:
    head, body = url.split(",", 1)
    assert head == f"data:{mime};base64"
    return base64.b64decode(body)


def test_run_db_range_spans_the_floor_to_three_stds_above_the_mean(tone):
    _, stats = tone
    lo, hi = run_db_range(stats)
    assert lo == pytest.approx(-100.0)  # log_floor 1e-5 is -100 dB
    assert hi == pytest.approx((stats["log_mel_mean"] + 3 * stats["log_mel_std"]) * 20 / math.log(10))


def test_media_are_the_picture_and_the_sound_of_each_item(tone):
    items, stats = tone
    media = sounds_media(items, stats)
    assert [sorted(m) for m in media] == [["audio", "image"]] * 2
    picture = np.asarray(Image.open(io.BytesIO(decoded(media[0]["image"], "image/png"))))
    assert picture.shape == (128, 16, 3)  # one pixel per mel band (rows) and frame (columns)
    rows = picture.astype(int).sum(axis=(1, 2))
    assert np.argmax(rows) > 64  # 440 Hz is a low band: drawn in the lower half (high frequencies on top)
    wave, rate = sf.read(io.BytesIO(decoded(media[0]["audio"], "audio/wav")))
    assert rate == RATE and wave.shape == (3000,)
    gl, nnls = PREVIEW_ITERATIONS  # a preview's iterations, fewer than the files'
    np.testing.assert_allclose(wave, items_to_waves(items[:1], stats, gl, nnls_iter=nnls)[0].numpy(),
                               atol=1 / 32768 + 1e-7)


def test_full_iterations_give_the_files_sound(tone):
    items, stats = tone
    full = sounds_media(items[:1], stats, ("audio",), iterations=(60, 100))[0]["audio"]
    wave, _ = sf.read(io.BytesIO(decoded(full, "audio/wav")))
    np.testing.assert_allclose(wave, items_to_waves(items[:1], stats)[0].numpy(), atol=1 / 32768 + 1e-7)
    preview, _ = sf.read(io.BytesIO(decoded(sounds_media(items[:1], stats, ("audio",))[0]["audio"], "audio/wav")))
    assert np.abs(wave - preview).max() > 1e-3  # the previews' fewer iterations make another sound


def test_a_louder_item_pictured_alone_is_brighter(tone):
    items, stats = tone
    quiet, loud = (sounds_media(x, stats, ("image",))[0] for x in (items[:1], items[:1] + 1.0))  # 1 std louder
    brightness = [np.asarray(Image.open(io.BytesIO(decoded(m["image"], "image/png")))).mean() for m in (quiet, loud)]
    assert brightness[1] > brightness[0] + 10  # on a per-item scale the two pictures would be the same


def test_some_keys_only_and_unknown_keys(tone):
    items, stats = tone
    assert [list(m) for m in sounds_media(items, stats, ("image",))] == [["image"], ["image"]]
    assert [list(m) for m in sounds_media(items[:1], stats, ("audio",))] == [["audio"]]
    with pytest.raises(ConfigError, match="asked for video"):
        sounds_media(items, stats, ("image", "video"))


def test_the_kind_gives_media_and_needs_the_run_stats(tone):
    items, stats = tone
    kind = kind_of("tones")
    assert kind.media_keys == ("image", "audio") and kind.file_types == (".wav", ".flac", ".ogg")
    assert kind.item_media(items[:1], stats, ("image",)) == sounds_media(items[:1], stats, ("image",))
    with pytest.raises(ConfigError, match="data stats"):
        kind.item_media(items[:1], None)
    with pytest.raises(ConfigError, match="no media"):
        kind_of("shapes").item_media(torch.zeros(1, 1, 16, 16))
