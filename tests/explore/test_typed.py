"""The explorer on sentence runs: a typed sentence is read as the corpus files are, its reconstruction is
the model's, its neighbours are the nearest test posterior means (checked with numpy), a conditional model
converts it to every class, and bad input gets a 4xx with a message."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import lively
from vaekit.config import DataConfig
from vaekit.errors import ConfigError, DataError
from vaekit.kinds import ImageKind, TextKind, load_split
from vaekit.kinds.texts.vocab import UNK, Vocabulary

pytest.importorskip("fastapi", reason="the explorer needs the explore extra: pip install -e '.[dev]'")

SENTENCE = "the huge red circle moves up ."


def client_of(run):
    from fastapi.testclient import TestClient

    from vaekit.explore.app import create_app

    return TestClient(create_app(run))


@pytest.fixture(scope="module")
def text(text_run_dir):
    run = lively(text_run_dir)
    data = load_split(run.config.data, "test", stats=run.data_stats)
    with client_of(run) as c:
        yield {"run": run, "client": c, "x": data.x, "vocab": Vocabulary.from_stats(run.data_stats)}


def ids_of(text: dict, sentence: str) -> torch.Tensor:
    """The item the model reads, built independently: the vocabulary's ids, <eos>, <pad>s: (1, T)."""
    return text["vocab"].items([sentence.split()], text["run"].config.data.max_length)


def test_a_typed_sentence_is_reconstructed_as_the_model_reconstructs_its_ids(text):
    model, c = text["run"].model, text["client"]
    info = c.get("/api/info").json()
    assert info["input"] == "typed" and info["n_classes"] == 0 and info["n_test"] == len(text["x"]) == 30
    answers = []
    for sentence in (SENTENCE, "a tiny blue star stays still ."):
        r = c.post("/api/typed", json={"text": sentence})
        assert r.status_code == 200, r.text
        x = ids_of(text, sentence)
        assert r.json()["input"]["item"] == x[0].tolist()
        assert r.json()["reconstruction"]["item"] == model.reconstruct(x)[0].tolist()
        np.testing.assert_allclose(r.json()["z"], model.encode(x).mean[0].numpy(), atol=1e-6)
        assert "<li>" + " ".join(text["vocab"].decode(model.reconstruct(x)[0].tolist())) in \
            r.json()["reconstruction"]["html"]
        answers.append(r.json()["reconstruction"]["item"])
    assert answers[0] != answers[1]  # the check above can tell sentences apart


def test_neighbours_are_the_nearest_test_means_closest_first(text):
    model, x, c = text["run"].model, text["x"], text["client"]
    means = model.encode(x).mean.double().numpy()
    for sentence in (SENTENCE, " ".join(text["vocab"].decode(x[7].tolist()))):
        r = c.post("/api/typed", json={"text": sentence, "k": 6}).json()
        z = model.encode(ids_of(text, sentence)).mean[0].double().numpy()
        distances = np.linalg.norm(means - z, axis=1)
        shown = [n["distance"] for n in r["neighbours"]]
        assert len(shown) == 6 and shown == sorted(shown)
        np.testing.assert_allclose(shown, np.sort(distances)[:6], atol=1e-5)
        for n in r["neighbours"]:
            assert n["item"] == x[n["index"]].tolist()
            assert n["distance"] == pytest.approx(distances[n["index"]], abs=1e-5)
    assert r["neighbours"][0]["distance"] < 1e-5  # a test sentence typed in is its own nearest neighbour


def test_unknown_words_long_input_and_bad_requests(text):
    c = text["client"]
    r = c.post("/api/typed", json={"text": "the huge zorblax circle"}).json()
    assert r["input"]["item"][:5] == [*ids_of(text, "the huge")[0, :2].tolist(), UNK, *ids_of(text, "circle")[0, :1]
                                      .tolist(), 3]
    assert "&lt;unk&gt;" in r["input"]["html"]
    long = " ".join(["circle"] * 45)  # longer than --max-length 40: cut, as the corpus files are (--long-lines)
    item = c.post("/api/typed", json={"text": long}).json()["input"]["item"]
    assert item == ids_of(text, " ".join(["circle"] * 40))[0].tolist()
    bad = [({"text": "  \n "}, 422, "no words"), ({"text": SENTENCE, "label": 1}, 422, "not class"),
           ({"text": SENTENCE, "k": 0}, 422, "between 1 and"), ({"text": "x" * 10_001}, 413, "longer"),
           ({"words": SENTENCE}, 422, "text: Field required")]
    for body, status, says in bad:
        r = c.post("/api/typed", json=body)
        assert r.status_code == status and says in r.json()["detail"], r.text
    images_only = [("get", "/api/image/0", {}), ("post", "/api/interpolate", {"json": {"i": 0, "j": 1, "t": 0}}),
                   ("post", "/api/reconstruct", {"data": {"data_url": "data:image/png;base64,AA=="}})]
    for method, path, kwargs in images_only:
        r = getattr(c, method)(path, **kwargs)
        assert r.status_code == 404 and "/api/typed" in r.json()["detail"], r.text


def test_sliders_decode_sentences(text):
    model, c = text["run"].model, text["client"]
    for z in (torch.zeros(4), torch.tensor([1.5, -2.0, 0.5, 2.5])):
        r = c.post("/api/decode", json={"z": z.tolist()}).json()
        assert r["item"] == model.decode(z[None])[0].tolist() and r["html"].startswith('<div class="sentences"')


def test_a_conditional_model_converts_the_sentence_to_every_class(conditional_text_run_dir):
    run = lively(conditional_text_run_dir)
    model, k = run.model, run.model.n_classes
    vocab = Vocabulary.from_stats(run.data_stats)
    x = vocab.items([SENTENCE.split()], run.config.data.max_length)
    with client_of(run) as c:
        info = c.get("/api/info").json()
        assert info["n_classes"] == k and info["class_names"] == ["square", "circle", "triangle", "star", "heart"]
        r = c.post("/api/typed", json={"text": SENTENCE, "label": 1}).json()
        y = torch.tensor([1])
        assert r["reconstruction"]["item"] == model.reconstruct(x, y)[0].tolist()
        assert [cv["label"] for cv in r["conversions"]] == list(range(k))
        for c_ in range(k):
            assert r["conversions"][c_]["item"] == model.convert(x, y, torch.tensor([c_]))[0].tolist()
        assert len({tuple(cv["item"]) for cv in r["conversions"]}) > 1  # classes decode differently
        z = torch.tensor([0.5, 0.0, -1.0, 1.0])
        assert c.post("/api/decode", json={"z": z.tolist(), "label": 3}).json()["item"] == \
            model.decode(z[None], torch.tensor([3]))[0].tolist()
        for body in ({"text": SENTENCE}, {"text": SENTENCE, "label": k}):
            r = c.post("/api/typed", json=body)
            assert r.status_code == 422 and "class-conditional" in r.json()["detail"]


def test_parse_input_reads_as_the_corpus_files_are_read():
    stats = {"vocabulary": ["<pad>", "<unk>", "<bos>", "<eos>", "the", "red", "circle"]}
    cfg = DataConfig(dataset="text-shapes", max_length=3, lowercase=True)
    torch.testing.assert_close(TextKind().parse_input("The  RED\tcircle", stats, cfg), torch.tensor([[4, 5, 6, 3]]))
    cfg = DataConfig(dataset="text-shapes", max_length=3)  # case kept, long lines cut
    torch.testing.assert_close(TextKind().parse_input("The red circle x", stats, cfg), torch.tensor([[1, 5, 6, 3]]))
    cfg = DataConfig(dataset="text-shapes", max_length=3, long_lines="refuse")
    with pytest.raises(DataError, match="--max-length 3"):
        TextKind().parse_input("the red circle the", stats, cfg)
    with pytest.raises(ConfigError, match="images items cannot be typed"):
        ImageKind().parse_input("a picture", None, DataConfig())
