"""The explorer's JSON API against a tiny trained run: the numbers it serves are the model's, and every
bad request gets a 4xx with a message while the server keeps serving."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.distributions import StandardNormal
from vaekit.kinds import load_split
from vaekit.runs import load_run

pytest.importorskip("fastapi", reason="the explorer needs the explore extra: pip install -e '.[dev]'")


def pixels(x: torch.Tensor) -> np.ndarray:
    """What the API must send for model output x (C, H, W): 8-bit, rounded, one channel as (H, W)."""
    a = np.rint(x.clamp(0, 1).numpy() * 255).astype(np.uint8)
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def from_data_url(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def png(a: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a, mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def ref(run_dir):
    """The model and test data loaded independently of the app, and the PCA of the means by numpy."""
    run = load_run(run_dir)
    data = load_split(run.config.data, "test", stats=run.data_stats)
    q = run.model.encode(data.x)
    means = q.mean.double().numpy()
    centred = means - means.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return {"model": run.model, "x": data.x, "labels": data.labels, "q": q, "means": means,
            "center": means.mean(0), "axes": vt[:2]}


def project(ref, z: np.ndarray) -> np.ndarray:
    """Map position by numpy's PCA; PCA axes are defined up to sign, so signs are matched by the caller."""
    return (z - ref["center"]) @ ref["axes"].T


def test_info_orders_dimensions_by_decreasing_kl(client, ref):
    info = client.get("/api/info").json()
    assert info["latent_dim"] == 3 and info["image_shape"] == [1, 16, 16] and info["n_test"] == len(ref["x"]) == 120
    kl = ref["q"].kl_per_dim(StandardNormal(3)).mean(0)
    assert info["order_by"] == "kl"
    np.testing.assert_allclose(info["scores"], kl.numpy(), rtol=1e-5)
    assert info["order"] == torch.argsort(kl, descending=True).tolist()
    assert [info["scores"][d] for d in info["order"]] == sorted(info["scores"], reverse=True)
    assert all(lo <= -3 and hi >= 3 for lo, hi in info["ranges"])


def test_map_is_the_pca_of_the_test_posterior_means(client, ref):
    m = client.get("/api/map").json()
    assert m["method"] == "pca"
    basis = np.array(m["basis"])
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-5)
    signs = np.sign(np.sum(basis * ref["axes"], axis=1))  # each app axis is +- numpy's
    np.testing.assert_allclose(basis, ref["axes"] * signs[:, None], atol=1e-4)
    np.testing.assert_allclose(m["points"], project(ref, ref["means"]) * signs, atol=1e-4)
    assert m["label_name"] == "shape" and m["categorical"]
    assert m["labels"] == ref["labels"][:, 0].tolist()
    assert sum(m["explained"]) <= 1 + 1e-6 and m["explained"][0] >= m["explained"][1]


def test_decode_returns_exactly_the_model_decoding(client, ref):
    gen = torch.Generator().manual_seed(0)
    basis = np.array(client.get("/api/map").json()["basis"])
    signs = np.sign(np.sum(basis * ref["axes"], axis=1))
    randoms = [torch.rand(3, generator=gen) * 6 - 3 for _ in range(3)]
    for z in [torch.zeros(3), torch.tensor([3.0, -3.0, 0.5]), *randoms]:
        r = client.post("/api/decode", json={"z": z.tolist()})
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(from_data_url(r.json()["image"]), pixels(ref["model"].decode(z[None])[0]))
        np.testing.assert_allclose(r.json()["point"], project(ref, z.double().numpy()) * signs, atol=1e-4)


def test_interpolation_ends_are_the_reconstructions(client, ref):
    model, x = ref["model"], ref["x"]
    for i, j in [(0, 1), (7, 42)]:
        ends = [client.post("/api/interpolate", json={"i": i, "j": j, "t": t}).json() for t in (0, 1)]
        np.testing.assert_array_equal(from_data_url(ends[0]["image"]), pixels(model.reconstruct(x[i:i + 1])[0]))
        np.testing.assert_array_equal(from_data_url(ends[1]["image"]), pixels(model.reconstruct(x[j:j + 1])[0]))
    mid = client.post("/api/interpolate", json={"i": 0, "j": 1, "t": 0.25}).json()
    za, zb = model.encode(x[0:1]).mean[0], model.encode(x[1:2]).mean[0]
    z = 0.75 * za + 0.25 * zb
    np.testing.assert_allclose(mid["z"], z.numpy(), atol=1e-6)
    np.testing.assert_array_equal(from_data_url(mid["image"]), pixels(model.decode(z[None])[0]))


def test_test_image_endpoint_serves_the_test_images(client, ref):
    r = client.get("/api/image/5")
    assert r.headers["content-type"] == "image/png"
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(r.content))), pixels(ref["x"][5]))


@pytest.mark.parametrize("i", [3, 77])
def test_upload_of_a_test_image_lands_on_its_posterior_mean(client, ref, i):
    model, x = ref["model"], ref["x"]
    basis = np.array(client.get("/api/map").json()["basis"])
    signs = np.sign(np.sum(basis * ref["axes"], axis=1))
    image = png(pixels(x[i]))  # shapes are binary: the PNG holds the test image exactly
    by_file = client.post("/api/reconstruct", files={"file": ("x.png", image, "image/png")}).json()
    url = "data:image/png;base64," + base64.b64encode(image).decode()
    by_url = client.post("/api/reconstruct", data={"data_url": url}).json()
    mean = model.encode(x[i:i + 1]).mean[0]
    for r in (by_file, by_url):
        np.testing.assert_array_equal(from_data_url(r["input"]), pixels(x[i]))
        np.testing.assert_array_equal(from_data_url(r["image"]), pixels(model.reconstruct(x[i:i + 1])[0]))
        np.testing.assert_allclose(r["z"], mean.numpy(), atol=1e-6)
        np.testing.assert_allclose(r["point"], project(ref, mean.double().numpy()) * signs, atol=1e-4)


def test_upload_is_resized_and_flattened_like_the_training_images(client, ref):
    big = np.kron(pixels(ref["x"][3]), np.ones((4, 4), np.uint8))  # 64x64, each pixel a 4x4 block
    r = client.post("/api/reconstruct", files={"file": ("big.png", png(big), "image/png")}).json()
    seen = from_data_url(r["input"])
    assert seen.shape == (16, 16)
    assert np.abs(seen.astype(int) - pixels(ref["x"][3]).astype(int)).mean() < 8  # resampling blurs edges only
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 255  # white, but fully transparent: over black it is black
    rgba[10:30, 10:30, 3] = 255  # an opaque white square
    r = client.post("/api/reconstruct", files={"file": ("a.png", png(rgba, "RGBA"), "image/png")}).json()
    seen = from_data_url(r["input"])
    assert seen[0, 0] == 0 and seen[8, 8] == 255


def _png_of_size(w: int, h: int) -> bytes:
    return png(np.zeros((h, w), np.uint8))


def _truncated_png() -> bytes:
    noise = png(np.random.default_rng(0).integers(0, 256, (30, 30), dtype=np.uint8))  # does not compress
    return noise[: len(noise) // 2]


def _not_json(body: bytes) -> dict:
    return {"content": body, "headers": {"Content-Type": "application/json"}}


BAD_REQUESTS = [
    ("post", "/api/decode", {"json": {"z": [0, 0]}}, "3 latent dimensions"),
    ("post", "/api/decode", {"json": {"z": [0, 0, 0, 0]}}, "3 latent dimensions"),
    ("post", "/api/decode", {"json": {"z": [0, 9, 0]}}, "outside its range"),
    ("post", "/api/decode", {"json": {"z": [0, -3.01, 0]}}, "outside its range"),
    ("post", "/api/decode", _not_json(b'{"z": [NaN, 0, 0]}'), "not a finite number"),
    ("post", "/api/decode", _not_json(b'{"z": [0, Infinity, 0]}'), "not a finite number"),
    ("post", "/api/decode", {"json": {"z": [0, "nan", 0]}}, "not a finite number"),
    ("post", "/api/decode", {"json": {"z": [0, "a", 0]}}, "z.1"),
    ("post", "/api/decode", {"json": {"w": [0, 0, 0]}}, "z: Field required"),
    ("post", "/api/decode", _not_json(b'{"z": [0, 0'), "not valid JSON"),
    ("get", "/api/image/120", {}, "out of range"),
    ("get", "/api/image/-1", {}, "out of range"),
    ("get", "/api/image/abc", {}, "valid integer"),
    ("post", "/api/interpolate", {"json": {"i": 0, "j": 120, "t": 0.5}}, "out of range"),
    ("post", "/api/interpolate", {"json": {"i": -5, "j": 1, "t": 0.5}}, "out of range"),
    ("post", "/api/interpolate", {"json": {"i": 0, "j": 1, "t": 1.5}}, "in [0, 1]"),
    ("post", "/api/interpolate", {"json": {"i": 0, "j": 1, "t": -0.1}}, "in [0, 1]"),
    ("post", "/api/interpolate", _not_json(b'{"i": 0, "j": 1, "t": NaN}'), "in [0, 1]"),
    ("post", "/api/interpolate", {"json": {"i": 0.5, "j": 1, "t": 0.5}}, "i:"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.txt", b"hello, not an image", "text/plain")}}, "not an image"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", b"", "image/png")}}, "not an image"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", _truncated_png(), "image/png")}}, "cannot be decoded"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", _png_of_size(2, 2), "image/png")}}, "too small"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", _png_of_size(200, 20), "image/png")}}, "elongated"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", _png_of_size(5000, 4000), "image/png")}}, "larger"),
    ("post", "/api/reconstruct", {"data": {"data_url": "data:image/png;base64,@@@"}}, "base64"),
    ("post", "/api/reconstruct", {"data": {"data_url": "hello"}}, "data:image/png;base64"),
    ("post", "/api/reconstruct", {"data": {"data_url": "data:image/png;base64,aGVsbG8="}}, "not an image"),
    ("post", "/api/reconstruct", {"data": {"other": "x"}}, "field `file`"),
    ("post", "/api/reconstruct", {"json": {"z": [0, 0, 0]}}, "field `file`"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "says"), BAD_REQUESTS,
                         ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(BAD_REQUESTS)])
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_keeps_serving(client, method, path, kwargs, says):
    r = getattr(client, method)(path, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and says in detail, detail
    good = client.post("/api/decode", json={"z": [0.5, 0, -0.5]})
    assert good.status_code == 200 and good.json()["image"].startswith("data:image/png;base64,")


def test_page_is_self_contained(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "vaekit latent explorer" in page and "/api/decode" in page and "/api/reconstruct" in page
    assert "http://" not in page and "https://" not in page and 'src="//' not in page  # works offline
    assert client.get("/docs").status_code == 404  # FastAPI's docs page loads from a CDN: not served
