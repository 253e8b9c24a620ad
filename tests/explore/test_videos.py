"""The explorer on a video run (a stand-in model whose code is each frame's brightness: `fakes`): decodes and test
items come as the kind's frame strips and GIFs, content and motion codes are taken apart from test videos and
from the prior and decoded together (checked against `model.swap` and the closed form), uploads read through
the kind become donors, and bad requests get a 4xx naming the problem."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from tests.kinds.videos.fakes import FakeSequentialVAE, flat_videos
from vaekit.data import TensorData
from vaekit.explore.state import ExplorerState
from vaekit.kinds.videos import VideoKind
from vaekit.kinds.videos.show import video_media

pytest.importorskip("fastapi", reason="the explorer needs the explore extra: pip install -e '.[dev]'")

VALUES = [[0.2, 0.3, 0.4, 0.3], [0.6, 0.5, 0.6, 0.7], [0.5, 0.5, 0.1, 0.5], [0.3, 0.3, 0.3, 0.3]]


@pytest.fixture
def model():
    return FakeSequentialVAE(static_dim=2)


@pytest.fixture
def client(model):
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    x = flat_videos(VALUES)
    state = ExplorerState(model, x, torch.tensor([0, 1, 0, 1]), kind=VideoKind())
    with TestClient(create_app(state)) as c:
        c.x = x
        yield c


def gif_values(url: str) -> list[float]:
    """The brightness of each frame of a one-video GIF data URL (the fake's frames are one value each)."""
    import base64

    im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return [float(np.asarray(f.convert("L")).mean()) / 255 for f in ImageSequence.Iterator(im)]


def test_info_describes_content_and_motion(client):
    info = client.get("/api/info").json()
    assert info["input"] == "media" and info["media"] == ["image", "video"] and info["latent_dim"] == 6
    assert info["video"]["static_dim"] == 2 and info["video"]["frames"] == 4 and info["video"]["frame_dim"] == 1
    # z_t of the test videos: brightness minus its mean; their std over videos and frames sets the shift range
    zs = torch.tensor(VALUES) - torch.tensor(VALUES).mean(1, keepdim=True)
    half = float(torch.ceil(3 * zs.std(unbiased=False).clamp_min(1 / 6) * 2) / 2)
    assert info["video"]["shift_ranges"] == [[-half, half]]


def test_decode_and_items_are_the_kinds_media(client, model):
    z = model.encode(client.x[1:2]).mean[0]
    r = client.post("/api/decode", json={"z": z.tolist()}).json()
    assert r == {**video_media(model.decode(z[None]))[0], "point": r["point"]}
    item = client.get("/api/item/2").json()
    assert item["video"] == video_media(client.x[2:3])[0]["video"]
    assert client.get("/api/image/2").headers["content-type"] == "image/png"


def test_codes_of_test_videos_decode_to_their_swap(client, model):
    a, b = client.get("/api/video/code/0").json(), client.get("/api/video/code/1").json()
    mean0 = model.encode(client.x[:1]).mean[0]
    assert a["f"] == pytest.approx(mean0[:2].tolist()) and len(b["zs"]) == 4 and len(b["zs"][0]) == 1
    r = client.post("/api/video/decode", json={"f": a["f"], "zs": b["zs"]}).json()
    assert r["video"] == video_media(model.swap(client.x[:1], client.x[1:2]))[0]["video"]
    assert gif_values(r["video"]) == pytest.approx([0.3 + z - 0.6 for z in VALUES[1]], abs=1 / 255)
    shifted = client.post("/api/video/decode", json={"f": a["f"], "zs": b["zs"], "shift": [0.2]}).json()
    assert gif_values(shifted["video"]) == pytest.approx([0.5 + z - 0.6 for z in VALUES[1]], abs=1 / 255)
    assert shifted["z"][2:] == pytest.approx([z - 0.6 + 0.2 for z in VALUES[1]])


def test_prior_draws_are_the_models_seeded(client, model):
    r = client.post("/api/video/prior", json={"seed": 7}).json()
    z = model.prior_sample(1, torch.Generator().manual_seed(7))[0]
    assert r["f"] == pytest.approx(z[:2].tolist()) and [v for (v,) in r["zs"]] == pytest.approx(z[2:].tolist())
    assert client.post("/api/video/prior", json={"seed": 7}).json() == r


def test_an_upload_is_read_by_the_kind_and_gives_its_code(client, model, monkeypatch):
    upload = flat_videos([[0.9, 0.1, 0.9, 0.1]])
    seen = []
    monkeypatch.setattr(VideoKind, "load_path", lambda self, path, cfg, stats: seen.append(path.suffix) or
                        TensorData(upload))
    r = client.post("/api/reconstruct", files={"file": ("mine.gif", b"GIF89a...", "image/gif")}).json()
    assert seen == [".gif"]
    assert r["z"] == pytest.approx(model.encode(upload).mean[0].tolist())
    assert r["input"]["video"] == video_media(upload)[0]["video"]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("/api/video/decode", {"f": [0.0], "zs": [[0.0]] * 4}, 422, "f has shape [1]; this model takes [2]"),
    ("/api/video/decode", {"f": [0.0, 0.0], "zs": [[0.0]] * 3}, 422, "zs has shape [3, 1]"),
    ("/api/video/decode", {"f": [0.0, 1e9], "zs": [[0.0]] * 4}, 422, "f holds 1000000000.0"),
    ("/api/video/decode", {"f": [0.0, 0.0], "zs": [[0.0]] * 4, "shift": [1, 2]}, 422, "shift has shape [2]"),
    ("/api/video/decode", {"f": [0.0, 0.0]}, 422, "zs: Field required"),
])
def test_bad_codes_are_refused_with_a_message(client, path, body, status, message):
    r = client.post(path, json=body)
    assert r.status_code == status and message in r.json()["detail"]


def test_bad_index_and_bad_upload_are_refused(client):
    r = client.get("/api/video/code/9")
    assert r.status_code == 404 and "out of range" in r.json()["detail"]
    r = client.post("/api/reconstruct", files={"file": ("clip.wav", b"RIFF", "audio/wav")})
    assert r.status_code == 415 and ".gif, .mp4, .npy" in r.json()["detail"]
    r = client.post("/api/reconstruct", files={"file": ("clip.gif", b"", "image/gif")})
    assert r.status_code == 422 and "empty" in r.json()["detail"]


def test_a_model_without_motion_has_no_video_endpoints():
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    class Whole(FakeSequentialVAE):
        split_latent = None  # one latent for the whole video: nothing to take apart

    with TestClient(create_app(ExplorerState(Whole(), flat_videos(VALUES), kind=VideoKind()))) as c:
        assert "video" not in c.get("/api/info").json()
        r = c.get("/api/video/code/0")
        assert r.status_code == 404 and "no content and motion latents" in r.json()["detail"]


def test_the_page_has_the_video_controls(client):
    page = client.get("/").text
    for needle in ('id="video-panel"', "/api/video/decode", "/api/video/prior", "function startVideo"):
        assert needle in page


def test_the_sequential_vae_in_the_explorer():
    """The real model: a test video's content with another's motion is the code `model.swap` decodes."""
    from fastapi.testclient import TestClient

    from tests.kinds.videos.test_model import lively, moving_squares, tiny_model
    from vaekit.explore.app import create_app

    model, x = lively(tiny_model()).eval(), moving_squares(6)
    with TestClient(create_app(ExplorerState(model, x, kind=VideoKind()))) as c:
        v = c.get("/api/info").json()["video"]
        assert (v["static_dim"], v["frames"], v["frame_dim"]) == (model.static_dim, 4, model.frame_dim)
        a, b = c.get("/api/video/code/2").json(), c.get("/api/video/code/5").json()
        r = c.post("/api/video/decode", json={"f": a["f"], "zs": b["zs"]}).json()
    f = model.split_latent(model.encode(x[2:3]).mean)[0]
    zs = model.split_latent(model.encode(x[5:6]).mean)[1]
    assert r["z"] == pytest.approx(model.join_latent(f, zs)[0].tolist(), abs=1e-4)
    want = video_media(model.swap(x[2:3], x[5:6]))[0]["video"]
    assert gif_values(r["video"]) == pytest.approx(gif_values(want), abs=2 / 255)
