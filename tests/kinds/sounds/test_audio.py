"""Reading, fitting, scaling and writing clips: numbers checked against numpy and soundfile."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import soundfile as sf
import torch

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.sounds.audio import fit_length, normalise_loudness, read_clip, wav_bytes, write_wav


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)).astype(np.float32)


def peak_frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


@pytest.mark.parametrize("rate", [44100, 8000])
def test_resampling_keeps_frequency_and_amplitude(tmp_path, rate):
    path = tmp_path / "a.wav"
    sf.write(path, sine(1000, rate, 0.5), rate, subtype="FLOAT")
    x = read_clip(path, 16000).numpy()
    assert x.dtype == np.float32 and len(x) == 8000
    assert abs(peak_frequency(x, 16000) - 1000) <= 16000 / len(x)  # within one FFT bin (2 Hz)
    middle = x[1000:-1000]  # away from the filter's edge transients
    amplitude = np.sqrt(2 * np.mean(middle.astype(np.float64) ** 2))
    assert amplitude == pytest.approx(0.5, rel=0.02)


def test_resampling_removes_what_lies_above_the_new_nyquist_frequency(tmp_path):
    sf.write(tmp_path / "hi.wav", sine(12000, 44100, 0.5), 44100, subtype="FLOAT")
    x = read_clip(tmp_path / "hi.wav", 16000).numpy()
    # 12 kHz cannot exist at 16 kHz; picking samples without a low-pass filter would fold it to 4 kHz at full level
    naive = sine(12000, 44100, 0.5)[np.round(np.arange(8000) * 44100 / 16000).astype(int)]
    assert np.sqrt(np.mean(naive**2)) > 0.3
    assert np.sqrt(np.mean(x[1000:-1000] ** 2)) < 0.005


def test_a_file_at_the_target_rate_is_read_unchanged(tmp_path):
    x = sine(440, 16000, 0.1)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    assert torch.equal(read_clip(tmp_path / "a.wav", 16000), torch.from_numpy(x))


def reference(n: int = 4000) -> np.ndarray:
    t = np.arange(n) / 16000
    return (0.4 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 1234 * t + 1)).astype(np.float32)


@pytest.mark.parametrize(("name", "subtype", "tol"), [
    ("u8.wav", "PCM_U8", 1 / 128),  # 8-bit WAV is unsigned; a step is 1/128
    ("s16.flac", "PCM_16", 1 / 32768),
    ("s24.wav", "PCM_24", 2.0**-23),
    ("f32.wav", "FLOAT", 0.0),
])
def test_integer_and_float_files_read_to_the_same_samples(tmp_path, name, subtype, tol):
    x = reference()
    sf.write(tmp_path / name, x, 16000, subtype=subtype)
    got = read_clip(tmp_path / name, 16000).numpy()
    assert got.dtype == np.float32 and len(got) == len(x)
    assert np.abs(got - x).max() <= tol + 1e-7


def test_stereo_is_mixed_to_the_mean_of_its_channels(tmp_path):
    x, d = reference(), 0.2 * np.ones(4000, dtype=np.float32)
    sf.write(tmp_path / "st.wav", np.stack([x + d, x - d], axis=1), 16000, subtype="FLOAT")
    np.testing.assert_allclose(read_clip(tmp_path / "st.wav", 16000).numpy(), x, atol=1e-7)


def test_ogg_vorbis_reads_close_to_its_source(tmp_path):
    x = reference(16000)
    sf.write(tmp_path / "a.ogg", x, 16000, format="OGG", subtype="VORBIS")
    got = read_clip(tmp_path / "a.ogg", 16000).numpy()
    assert len(got) == len(x)
    assert np.corrcoef(got, x)[0, 1] > 0.99  # lossy, so close rather than equal


def test_float_samples_beyond_one_are_clipped(tmp_path):
    sf.write(tmp_path / "loud.wav", np.array([0.5, 1.5, -2.0], dtype=np.float32), 16000, subtype="FLOAT")
    assert read_clip(tmp_path / "loud.wav", 16000).tolist() == [0.5, 1.0, -1.0]


def wav_with_rate(rate: int, frames: bytes = b"\x00\x10" * 100) -> bytes:
    """A 16-bit mono WAV whose header declares `rate`, written by hand."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(frames)) + frames
    return b"RIFF" + struct.pack("<I", len(body)) + body


def bad_files(tmp_path):
    """name -> bytes of a file read_clip must refuse."""
    nan = io.BytesIO()
    sf.write(nan, np.array([0.1, np.nan, 0.2], dtype=np.float32), 16000, format="WAV", subtype="FLOAT")
    flac = io.BytesIO()
    sf.write(flac, reference(16000), 16000, format="FLAC", subtype="PCM_16")
    return {
        "empty.wav": wav_with_rate(16000, b""),
        "nan.wav": nan.getvalue(),
        "text.wav": b"this is not audio\n",
        "zero-bytes.wav": b"",
        "truncated.flac": flac.getvalue()[: len(flac.getvalue()) // 2],
        "rate0.wav": wav_with_rate(0),
    }


@pytest.mark.parametrize("name", ["empty.wav", "nan.wav", "text.wav", "zero-bytes.wav", "truncated.flac",
                                  "rate0.wav"])
def test_a_bad_file_is_a_data_error_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(bad_files(tmp_path)[name])
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        read_clip(path, 16000)


def test_a_missing_file_or_a_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="missing"):
        read_clip(tmp_path / "nothing.wav", 16000)
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(DataError, match="folder"):
        read_clip(tmp_path / "dir.wav", 16000)
    with pytest.raises(ConfigError):
        read_clip(tmp_path / "nothing.wav", 0)


def test_a_truncated_wav_reads_the_whole_samples_present(tmp_path):
    full = io.BytesIO()
    x = reference(1000)
    sf.write(full, x, 16000, format="WAV", subtype="PCM_16")
    (tmp_path / "cut.wav").write_bytes(full.getvalue()[: 44 + 2 * 600 + 1])  # 600 samples and half of one
    got = read_clip(tmp_path / "cut.wav", 16000).numpy()
    assert len(got) == 600
    assert np.abs(got - x[:600]).max() <= 1 / 32768


def test_fit_length_crops_at_the_centre_and_pads_at_the_end():
    x = torch.arange(10.0)
    assert fit_length(x, 4).tolist() == [3.0, 4.0, 5.0, 6.0]
    assert fit_length(x, 5).tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert fit_length(torch.arange(3.0), 5).tolist() == [0.0, 1.0, 2.0, 0.0, 0.0]
    assert torch.equal(fit_length(x, 10), x)
    batch = torch.stack([x, -x])  # (2, 10)
    assert fit_length(batch, 12).tolist() == [[*x.tolist(), 0.0, 0.0], [*(-x).tolist(), 0.0, 0.0]]
    assert fit_length(batch, 2).tolist() == [[4.0, 5.0], [-4.0, -5.0]]
    with pytest.raises(ConfigError):
        fit_length(x, 0)


def test_loudness_modes_hit_their_targets():
    quiet = torch.from_numpy(sine(440, 16000, 0.1, amp=0.01))
    spiky = torch.zeros(1600)
    spiky[::160] = 0.9  # RMS 0.09 with peaks of 0.9: -20 dBFS needs peaks above 1, which are clipped
    batch = torch.stack([quiet, spiky, torch.zeros(1600)])  # (3, S)
    peak = normalise_loudness(batch, "peak")
    assert peak[:2].abs().amax(dim=1).tolist() == pytest.approx([10 ** (-1 / 20)] * 2, rel=1e-6)
    rms = normalise_loudness(batch, "rms")
    assert rms[0].pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-5)
    assert rms[1].abs().max().item() == 1.0 and rms[1].pow(2).mean().sqrt().item() < 0.1
    assert torch.equal(peak[2], torch.zeros(1600)) and torch.equal(rms[2], torch.zeros(1600))  # silent: unchanged
    assert normalise_loudness(batch, "none") is batch
    with pytest.raises(ConfigError, match="loudness"):
        normalise_loudness(batch, "lufs")


def test_write_wav_round_trips_through_soundfile(tmp_path):
    x = np.concatenate([reference(1000), [1.0, -1.0, 1.7, -3.0, np.nan]]).astype(np.float32)
    path = write_wav(tmp_path / "out.wav", torch.from_numpy(x), 22050)
    got, rate = sf.read(path, dtype="float64")
    info = sf.info(path)
    assert rate == 22050 and info.subtype == "PCM_16" and info.channels == 1
    expected = np.nan_to_num(np.clip(x, -1, 1), nan=0.0)
    assert np.abs(got - expected).max() <= 1 / 32768
    assert path.read_bytes() == wav_bytes(x, 22050)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left


def test_write_wav_replaces_an_existing_file(tmp_path):
    path = tmp_path / "out.wav"
    path.write_bytes(b"old")
    write_wav(path, np.zeros(10, dtype=np.float32), 8000)
    assert sf.read(path)[0].tolist() == [0.0] * 10
    with pytest.raises(ValueError, match="one-dimensional"):
        wav_bytes(np.zeros((2, 10)), 8000)
