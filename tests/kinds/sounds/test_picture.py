"""picture: a tone's brightest row at its height (low frequencies at the bottom), sizes, the colour map's
ends, a shared dB scale in grids, and the PNG written whole."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.errors import DataError
from vaekit.kinds.sounds.picture import save_png, spectrogram_grid, spectrogram_image
from vaekit.kinds.sounds.spectral import SpectrogramSpec, log_mel

SR = 16000


def tone_log_spec(hz: float, spec: SpectrogramSpec, n: int = 4000) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / SR
    return log_mel((0.5 * torch.sin(2 * math.pi * hz * t)).float(), spec)  # (F, T)


def brightness(img: Image.Image) -> np.ndarray:
    """Position along magma (0 dark .. 1 bright) of each pixel, by the nearest colour of its table."""
    lut = np.asarray(matplotlib.colormaps["magma"](np.linspace(0, 1, 256)))[:, :3] * 255
    rgb = np.asarray(img, dtype=np.float64)                               # (H, W, 3)
    dist = ((rgb[..., None, :] - lut) ** 2).sum(axis=-1)                  # (H, W, 256)
    return dist.argmin(axis=-1) / 255.0


@pytest.mark.parametrize("n_mels", [0, 64])
def test_tone_is_brightest_at_its_height(n_mels):
    spec = SpectrogramSpec(n_mels=n_mels)
    for hz in (300.0, 3000.0):
        log_spec = tone_log_spec(hz, spec)
        img = spectrogram_image(log_spec)
        assert img.size == (log_spec.shape[1], log_spec.shape[0]) and img.mode == "RGB"  # (T, F)
        row = int(brightness(img).mean(axis=1).argmax())
        want = spec.bins - 1 - int(log_spec.mean(dim=1).argmax())         # bin 0 is the bottom row
        assert row == want
        if n_mels == 0:  # the row's frequency is the tone's, within a bin
            assert abs((spec.bins - 1 - row) * SR / spec.n_fft - hz) <= SR / spec.n_fft
    low, high = (int(brightness(spectrogram_image(tone_log_spec(hz, spec))).mean(axis=1).argmax())
                 for hz in (300.0, 3000.0))
    assert low > high  # the lower tone sits lower in the picture


def test_fixed_db_range_maps_to_the_colour_map_ends():
    db_per_nat = 20 / math.log(10)
    log_spec = torch.tensor([[-60.0, -30.0, 0.0, 10.0]]) / db_per_nat      # (1, 4) in dB: -60 .. +10
    b = brightness(spectrogram_image(log_spec, db_range=(-60.0, 0.0)))[0]
    assert b == pytest.approx([0.0, 128 / 255, 1.0, 1.0], abs=1 / 255)
    default = brightness(spectrogram_image(log_spec, top_db=40.0))[0]       # (max - 40, max) = (-30, 10)
    assert default == pytest.approx([0.0, 0.0, 191 / 255, 1.0], abs=1 / 255)
    with pytest.raises(DataError, match="db_range"):
        spectrogram_image(log_spec, db_range=(0.0, -10.0))


def test_grid_layout_and_shared_scale():
    items = torch.stack([torch.full((5, 7), -5.0), torch.full((5, 7), -2.0), torch.full((5, 7), 0.0)])  # (3, F, T)
    img = spectrogram_grid(items, per_row=2, gap=1)
    assert img.size == (2 * (7 + 1) + 1, 2 * (5 + 1) + 1)                 # (W, H) with 1-pixel gaps around
    arr = np.asarray(img)
    assert (arr[0] == 255).all() and (arr[:, 8] == 255).all()             # white gaps
    b = brightness(img)
    # one scale for all: the loudest item is the brightest, the quietest 5 nats (43 dB) below it is darker
    assert b[1:6, 9:16].min() == pytest.approx(b[1:6, 1:8].max() + (3 * 20 / math.log(10)) / 80, abs=2 / 255)
    assert b[7:12, 1:8].min() == 1.0
    assert spectrogram_grid(items[:, None]).size == spectrogram_grid(items).size  # (N, 1, F, T) is accepted
    with pytest.raises(DataError, match="N, F, T"):
        spectrogram_grid(torch.zeros(5, 7))


def test_save_png_round_trip_leaves_no_temporary(tmp_path):
    img = spectrogram_image(tone_log_spec(440.0, SpectrogramSpec()))
    path = save_png(img, tmp_path / "deep" / "spec.png")
    assert path == tmp_path / "deep" / "spec.png"
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(img))
    assert [p.name for p in path.parent.iterdir()] == ["spec.png"]
