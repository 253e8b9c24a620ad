"""The explorer on class-conditional picture and sound runs (a `folder` of three classes, `tones` by note):
every decode takes the selected class and equals `model.decode(z, y)`, test items and uploads are read with
their own class, the conversion row is E[z|x, y] decoded with every class, and a missing or unwanted
`label` is a 4xx naming it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.explore.conftest import CLASSES
from tests.explore.test_api import from_data_url, pixels, png
from tests.explore.test_sounds import check_media
from vaekit.explore.state import ExplorerState
from vaekit.kinds import load_split
from vaekit.kinds.sounds.tones import NOTES
from vaekit.runs import load_run

pytest.importorskip("fastapi", reason="the explorer needs the explore extra: pip install -e '.[dev]'")


def _reference(run_dir) -> dict:
    """The run's model and labelled test data, loaded apart from the app, and the app's client."""
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    run = load_run(run_dir)
    data = load_split(run.config.data, "test", stats=run.data_stats)
    return {"run": run, "model": run.model, "stats": run.data_stats, "x": data.x, "y": data.labels,
            "client": TestClient(create_app(run))}


@pytest.fixture(scope="module")
def images(conditional_image_run_dir):
    ref = _reference(conditional_image_run_dir)
    with ref["client"]:
        yield ref


@pytest.fixture(scope="module")
def sounds(conditional_sound_run_dir):
    ref = _reference(conditional_sound_run_dir)
    with ref["client"]:
        yield ref


def decoded(model, z: torch.Tensor, y: int) -> torch.Tensor:
    with torch.no_grad():
        return model.decode(z[None], torch.tensor([y]))[0]


def test_conditional_runs_open_with_their_class_names(images, sounds, conditional_image_run_dir):
    state = ExplorerState.from_run(load_run(conditional_image_run_dir))
    assert state.n_classes == 3 and state.conditional_names == list(CLASSES)
    assert torch.equal(state.item_labels, images["y"])
    means = images["model"].encode(images["x"], images["y"]).mean  # q(z|x, y) with each item's own class
    torch.testing.assert_close(state.means, means, atol=1e-5, rtol=1e-5)
    info = images["client"].get("/api/info").json()
    assert info["input"] == "image" and info["n_classes"] == 3 and info["class_names"] == list(CLASSES)
    info = sounds["client"].get("/api/info").json()
    k = sounds["model"].n_classes
    assert info["input"] == "media" and info["n_classes"] == k and info["class_names"] == list(NOTES[:k])


def test_image_decodes_take_the_class(images):
    model, c = images["model"], images["client"]
    z = torch.tensor([1.0, -0.5, 2.0])
    got = {y: from_data_url(c.post("/api/decode", json={"z": z.tolist(), "label": y}).json()["image"])
           for y in range(3)}
    for y in range(3):
        np.testing.assert_array_equal(got[y], pixels(decoded(model, z, y)))
    assert not np.array_equal(got[0], got[1]) and not np.array_equal(got[1], got[2])
    again = c.post("/api/decode", json={"z": z.tolist(), "label": 1}).json()["image"]
    np.testing.assert_array_equal(from_data_url(again), got[1])


def test_sound_decodes_take_the_class(sounds):
    model, c = sounds["model"], sounds["client"]
    z = torch.tensor([0.5, -1.0, 1.5, 0.0])
    answers = [c.post("/api/decode", json={"z": z.tolist(), "label": y}).json() for y in (0, 5)]
    for y, answer in zip((0, 5), answers, strict=True):
        check_media(sounds, answer, decoded(model, z, y))
    assert answers[0]["image"] != answers[1]["image"] and answers[0]["audio"] != answers[1]["audio"]


def test_the_conversion_row_is_the_items_code_decoded_with_every_class(images, sounds):
    for ref, i in ((images, 5), (sounds, 3)):
        model, x, y = ref["model"], ref["x"][i:i + 1], ref["y"][i:i + 1]
        r = ref["client"].get(f"/api/convert/{i}").json()
        z = model.encode(x, y).mean[0]
        assert r["index"] == i and r["label"] == int(y)
        np.testing.assert_allclose(r["z"], z.numpy(), atol=1e-5)
        assert [cv["label"] for cv in r["conversions"]] == list(range(model.n_classes))
        for cv in r["conversions"]:
            target = model.convert(x, y, torch.tensor([cv["label"]]))[0]  # decode(E[z|x, y], c)
            if ref is images:
                np.testing.assert_array_equal(from_data_url(cv["image"]), pixels(target))
            else:
                check_media(ref, cv, target)
        own = r["conversions"][int(y)]["image"]  # its own class: the reconstruction
        assert r["name"] == r["conversions"][int(y)]["name"]
        assert len({cv["image"] for cv in r["conversions"]}) > 1 and own


def test_interpolation_encodes_each_end_with_its_class_and_decodes_with_the_selected_one(images, sounds):
    model, x, y, c = images["model"], images["x"], images["y"], images["client"]
    i, j = 0, 9
    assert int(y[i]) != int(y[j])
    for t, end in ((0, i), (1, j)):
        r = c.post("/api/interpolate", json={"i": i, "j": j, "t": t, "label": 2}).json()
        np.testing.assert_array_equal(from_data_url(r["image"]),
                                      pixels(model.convert(x[end:end + 1], y[end:end + 1], torch.tensor([2]))[0]))
    r = c.post("/api/interpolate", json={"i": i, "j": j, "t": 0.25, "label": 0}).json()
    mix = 0.75 * model.encode(x[i:i + 1], y[i:i + 1]).mean[0] + 0.25 * model.encode(x[j:j + 1], y[j:j + 1]).mean[0]
    np.testing.assert_allclose(r["z"], mix.numpy(), atol=1e-5)
    np.testing.assert_array_equal(from_data_url(r["image"]), pixels(decoded(model, mix, 0)))
    s = sounds["client"].post("/api/interpolate", json={"i": 1, "j": 2, "t": 1, "label": 4}).json()
    xs, ys = sounds["x"], sounds["y"]
    check_media(sounds, s, sounds["model"].convert(xs[2:3], ys[2:3], torch.tensor([4]))[0])


def test_an_upload_is_read_with_its_class_and_converted(images):
    model, x, c = images["model"], images["x"], images["client"]
    raw = png(pixels(x[4]))  # a test picture, exactly as the model has it (binary pixels)
    for y in (0, 2):
        r = c.post("/api/reconstruct", files={"file": ("mine.png", raw, "image/png")}, data={"label": str(y)})
        assert r.status_code == 200, r.text
        z = model.encode(x[4:5], torch.tensor([y])).mean[0]
        np.testing.assert_allclose(r.json()["z"], z.numpy(), atol=1e-5)
        np.testing.assert_array_equal(from_data_url(r.json()["image"]), pixels(decoded(model, z, y)))
        row = r.json()["conversions"]
        assert [cv["name"] for cv in row] == list(CLASSES)
        for cv in row:
            np.testing.assert_array_equal(from_data_url(cv["image"]), pixels(decoded(model, z, cv["label"])))


def test_random_draws_from_the_prior_and_decodes_with_the_class(images):
    model, c = images["model"], images["client"]
    r = c.post("/api/random", json={"seed": 7, "label": 1}).json()
    z = model.prior_sample(1, torch.Generator().manual_seed(7))[0].clamp(-3, 3)
    np.testing.assert_allclose(r["z"], z.numpy(), atol=1e-6)
    np.testing.assert_array_equal(from_data_url(r["image"]), pixels(decoded(model, z, 1)))
    assert c.post("/api/random", json={"seed": 8, "label": 1}).json()["z"] != r["z"]


LABEL_REFUSALS = [
    ("post", "/api/decode", {"json": {"z": [0, 0, 0]}}, 422, "label is missing"),
    ("post", "/api/decode", {"json": {"z": [0, 0, 0], "label": 3}}, 422, "label 3"),
    ("post", "/api/interpolate", {"json": {"i": 0, "j": 1, "t": 0.5}}, 422, "label is missing"),
    ("post", "/api/random", {"json": {"seed": 1}}, 422, "label is missing"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", png(np.zeros((16, 16), np.uint8)), "image/png")}},
     422, "label is missing"),
    ("post", "/api/reconstruct", {"files": {"file": ("a.png", b"x", "image/png")}, "data": {"label": "two"}},
     422, "label: Input should be a valid integer"),
    ("get", "/api/convert/12", {}, 404, "out of range"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "says"), LABEL_REFUSALS,
                         ids=[f"{p} {s}" for _, p, _, _, s in LABEL_REFUSALS])
def test_a_conditional_run_refuses_requests_without_a_class(images, method, path, kwargs, status, says):
    r = getattr(images["client"], method)(path, **kwargs)
    assert r.status_code == status and says in r.json()["detail"], r.text


def test_an_unconditional_run_refuses_a_label(client):
    raw = png(np.zeros((16, 16), np.uint8))
    for method, path, kwargs in [("post", "/api/reconstruct", {"files": {"file": ("a.png", raw, "image/png")},
                                                               "data": {"label": "1"}}),
                                 ("post", "/api/decode", {"json": {"z": [0, 0, 0], "label": 0}}),
                                 ("post", "/api/interpolate", {"json": {"i": 0, "j": 1, "t": 0.5, "label": 0}})]:
        r = getattr(client, method)(path, **kwargs)
        assert r.status_code == 422 and "not class-conditional; send no label" in r.json()["detail"], r.text
    r = client.get("/api/convert/0")
    assert r.status_code == 404 and "--conditional" in r.json()["detail"]
    assert "n_classes" not in client.get("/api/info").json()  # an unconditional run answers as before
    assert client.post("/api/random", json={"seed": 3}).status_code == 200


def test_a_conditional_model_without_labels_is_refused(images):
    from vaekit.errors import VaekitError

    with pytest.raises(VaekitError, match=r"class-conditional \(3 classes\).*no labels"):
        ExplorerState(images["model"], images["x"], None)
