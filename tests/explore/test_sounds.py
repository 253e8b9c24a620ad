"""The explorer on a sound run (tiny `tones`, items (1, 128, 16)): decodes, interpolations and test items come
as the run's spectrogram pictures and WAVs (checked against the model and Griffin-Lim called directly), an
uploaded clip is read as the run's data were read and lands on its posterior mean, bad uploads get a 4xx naming
the problem. Class-conditional sound runs: test_conditional.py."""

from __future__ import annotations

import base64
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
from PIL import Image

from vaekit.kinds import load_split
from vaekit.kinds.sounds.features import clips_to_items, items_to_log_mel, items_to_waves
from vaekit.kinds.sounds.picture import spectrogram_image
from vaekit.kinds.sounds.show import PREVIEW_ITERATIONS, run_db_range
from vaekit.runs import load_run

pytest.importorskip("fastapi", reason="the explorer needs the explore extra: pip install -e '.[dev]'")

RATE, CLIP = 16000, 3000  # the run's rate and clip length: 0.25 s of tones cut to 16 frames


@pytest.fixture(scope="module")
def ref(sound_run_dir):
    run = load_run(sound_run_dir)
    data = load_split(run.config.data, "test", stats=run.data_stats)
    return {"run": run, "model": run.model, "stats": run.data_stats, "x": data.x,
            "means": run.model.encode(data.x).mean.detach()}


@pytest.fixture(scope="module")
def client(sound_run_dir):
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    with TestClient(create_app(sound_run_dir)) as c:
        yield c


def wave_of(url: str) -> tuple[np.ndarray, int]:
    assert url.startswith("data:audio/wav;base64,")
    return sf.read(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def picture_of(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def expected(ref, item: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """What the page must get for one item (1, 128, 16): its picture on the run's dB scale and its sound."""
    stats = ref["stats"]
    picture = np.asarray(spectrogram_image(items_to_log_mel(item[None], stats)[0], db_range=run_db_range(stats)))
    gl, nnls = PREVIEW_ITERATIONS  # the explorer's previews: fewer iterations than the files'
    return picture, items_to_waves(item[None], stats, gl, nnls_iter=nnls)[0].clamp(-1, 1).numpy()


def check_media(ref, answer: dict, item: torch.Tensor) -> None:
    picture, wave = expected(ref, item)
    np.testing.assert_array_equal(picture_of(answer["image"]), picture)
    got, rate = wave_of(answer["audio"])
    assert rate == RATE and got.shape == (CLIP,)
    np.testing.assert_allclose(got, wave, atol=1 / 32768 + 1e-7)  # 16-bit PCM: within one step


def map_point(client, z: torch.Tensor) -> np.ndarray:
    m = client.get("/api/map").json()
    return (z.double().numpy() - np.array(m["center"])) @ np.array(m["basis"]).T


def test_info_says_it_is_a_sound_run(client, ref):
    info = client.get("/api/info").json()
    assert info["input"] == "media" and info["kind"] == "sounds" and info["media"] == ["image", "audio"]
    assert info["item_shape"] == [1, 128, 16] and "image_shape" not in info
    assert info["accept"] == [".wav", ".flac", ".ogg"] and info["n_test"] == len(ref["x"]) == 16
    assert ref["stats"]["clip_samples"] == CLIP and ref["stats"]["sample_rate"] == RATE


def test_decode_plays_and_pictures_the_decoded_spectrogram(client, ref):
    for z in [torch.zeros(4), torch.tensor([2.5, -1.0, 0.5, -3.0])]:
        r = client.post("/api/decode", json={"z": z.tolist()})
        assert r.status_code == 200, r.text
        with torch.no_grad():
            item = ref["model"].decode(z[None])[0]
        check_media(ref, r.json(), item)
        assert picture_of(r.json()["image"]).shape == (128, 16, 3)  # one pixel per mel band and frame
        np.testing.assert_allclose(r.json()["point"], map_point(client, z), atol=1e-4)
    quiet, loud = (client.post("/api/decode", json={"z": [0, 0, 0, v]}).json() for v in (-3, 3))
    assert quiet["audio"] != loud["audio"]  # the code matters to the sound


def test_interpolation_and_test_items_come_with_their_sounds(client, ref):
    model, x = ref["model"], ref["x"]
    end = client.post("/api/interpolate", json={"i": 2, "j": 5, "t": 1}).json()
    with torch.no_grad():
        check_media(ref, end, model.reconstruct(x[5:6])[0])
    np.testing.assert_allclose(end["z"], ref["means"][5].numpy(), atol=1e-5)
    item = client.get("/api/item/3").json()
    check_media(ref, item, x[3])
    assert item["index"] == 3
    np.testing.assert_allclose(item["point"], client.get("/api/map").json()["points"][3], atol=1e-6)
    thumb = client.get("/api/image/3")
    assert thumb.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(thumb.content))), expected(ref, x[3])[0])


def _tone_wav(rate: int, seconds: float, subtype: str = "FLOAT") -> tuple[bytes, np.ndarray]:
    t = np.arange(round(rate * seconds)) / rate
    wave = (0.4 * np.sin(2 * np.pi * 523.25 * t) * np.exp(-6 * t)).astype(np.float32)  # a decaying C5
    buf = io.BytesIO()
    sf.write(buf, wave, rate, format="WAV", subtype=subtype)
    return buf.getvalue(), wave


def _uploads_left() -> int:
    return len(list(Path(tempfile.gettempdir()).glob("vaekit-upload-*")))


def test_an_uploaded_tone_is_read_as_the_run_reads_clips_and_reconstructed(client, ref):
    raw, wave = _tone_wav(22050, 0.2)  # another rate, shorter than the run's clips
    before = _uploads_left()
    r = client.post("/api/reconstruct", files={"file": ("tone.wav", raw, "audio/wav")})
    assert r.status_code == 200, r.text
    assert _uploads_left() == before  # the temporary copy is gone
    answer = r.json()
    # the run's reading, by hand: resampled to 16 kHz by soxr, padded with silence at the end, cut to 3000
    clip = np.zeros(CLIP, np.float32)
    resampled = soxr.resample(wave, 22050, RATE, quality="HQ")  # 3200 samples
    clip[:min(CLIP, len(resampled))] = resampled[:CLIP]
    x = clips_to_items(torch.from_numpy(clip)[None], ref["stats"])[0]  # (1, 128, 16)
    with torch.no_grad():
        z = ref["model"].encode(x[None]).mean[0]
        rebuilt = ref["model"].decode(z[None])[0]
    np.testing.assert_allclose(answer["z"], z.numpy(), atol=1e-4)
    np.testing.assert_allclose(answer["point"], map_point(client, z), atol=1e-4)
    heard, rate = wave_of(answer["input"]["audio"])
    assert rate == RATE and heard.shape == (CLIP,)
    seen = picture_of(answer["input"]["image"]).astype(int)
    assert np.mean(seen != expected(ref, x)[0]) < 0.01  # colour levels may flip at a float's last bit
    got, _ = wave_of(answer["reconstruction"]["audio"])
    np.testing.assert_allclose(got, expected(ref, rebuilt)[1], atol=2e-3)


def _nan_wav() -> bytes:
    wave = np.zeros(800, np.float32)
    wave[100] = np.nan
    buf = io.BytesIO()
    sf.write(buf, wave, RATE, format="WAV", subtype="FLOAT")
    return buf.getvalue()


BAD_UPLOADS = [
    ({"files": {"file": ("notes.wav", b"hello, this is text and not audio", "audio/wav")}}, 415,
     "cannot read audio file notes.wav"),
    ({"files": {"file": ("empty.wav", b"", "audio/wav")}}, 422, "empty.wav is empty"),
    ({"files": {"file": ("nan.wav", _nan_wav(), "audio/wav")}}, 415, "nan.wav holds a non-finite sample"),
    ({"files": {"file": ("song.mp3", b"ID3 not read", "audio/mpeg")}}, 415, "reads .wav, .flac, .ogg"),
    ({"files": {"file": ("big.wav", b"\0" * (10 * 2**20 + 1), "audio/wav")}}, 413, "larger than 10 MB"),
    ({"data": {"other": "x"}}, 400, "field `file`"),
]


@pytest.mark.parametrize(("kwargs", "status", "says"), BAD_UPLOADS, ids=[b[2] for b in BAD_UPLOADS])
def test_bad_uploads_get_a_4xx_naming_the_problem(client, kwargs, status, says):
    before = _uploads_left()
    r = client.post("/api/reconstruct", **kwargs)
    assert r.status_code == status and says in r.json()["detail"], (r.status_code, r.text)
    assert "vaekit-upload-" not in r.json()["detail"]  # the upload's own name, not its temporary copy
    assert _uploads_left() == before
    assert client.post("/api/decode", json={"z": [0, 0, 0, 0]}).status_code == 200


@pytest.mark.parametrize(("method", "path", "kwargs", "says"), [
    ("post", "/api/typed", {"json": {"text": "a tone"}}, "upload a file"),
    ("post", "/api/decode", {"json": {"z": [0, 0, 0, 0], "label": 1}}, "not class-conditional"),
    ("get", "/api/item/16", {}, "out of range"),
])
def test_other_bad_requests(client, method, path, kwargs, says):
    r = getattr(client, method)(path, **kwargs)
    assert 400 <= r.status_code < 500 and says in r.json()["detail"], r.text


def test_image_runs_have_no_items_with_media(run_dir):
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    with TestClient(create_app(run_dir)) as c:
        assert c.get("/api/info").json()["input"] == "image"
        r = c.get("/api/item/0")
        assert r.status_code == 404 and "/api/image" in r.json()["detail"]

