"""The picture commands and the report on sentence runs: token ids pass through unclamped, each row is what
the model decodes (exact ids), and the kind writes the rows as text."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest
import torch

from tests.conftest import lively
from vaekit.cli import main
from vaekit.kinds.texts.vocab import Vocabulary
from vaekit.runs import load_run
from vaekit.viz.common import load_items
from vaekit.viz.report import write_report


@pytest.fixture(scope="module")
def text_run(text_run_dir):
    return load_run(text_run_dir)


@pytest.fixture(scope="module")
def lively_run(text_run_dir):
    return lively(text_run_dir)


def words(vocab: Vocabulary, ids: torch.Tensor) -> str:
    return " ".join(vocab.decode(ids.tolist()))


def text_rows(path) -> list[list[str]]:
    """The sentences of a written .txt, row by row, without their numbers."""
    blocks = path.read_text(encoding="utf-8").strip().split("\n\n")
    return [[line.split(None, 1)[1] for line in block.splitlines()] for block in blocks]


def test_interpolation_rows_run_from_one_reconstruction_to_the_other(lively_run):
    from vaekit.viz.interpolate import interpolate_inputs

    model, x = lively_run.model, load_items(lively_run, "test", 4).x
    rows = interpolate_inputs(model, x[[0, 2]], x[[1, 3]], 5, "linear")
    assert rows.shape == (2, 5, model.event_shape[0]) and rows.dtype == torch.int64  # ids, not clamped to 0/1
    recon = model.reconstruct(x)  # (4, T)
    assert not torch.equal(recon[0], recon[1]) and not torch.equal(recon[2], recon[3])
    torch.testing.assert_close(rows[:, 0], recon[[0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(rows[:, -1], recon[[1, 3]], rtol=0, atol=0)


def test_interpolate_writes_the_rows_as_sentences(text_run_dir, text_run, tmp_path, capsys):
    from vaekit.viz.interpolate import interpolate_inputs

    out = tmp_path / "interp.txt"
    assert main(["interpolate", str(text_run_dir), "--indices", "0,1,2,3", "--steps", "5", "--mode", "linear",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} and {out.with_suffix('.npy')}" in printed and ".png" not in printed
    rows = torch.from_numpy(np.load(out.with_suffix(".npy")))
    x = load_items(text_run, "test", 4).x
    torch.testing.assert_close(rows, interpolate_inputs(text_run.model, x[[0, 2]], x[[1, 3]], 5, "linear"),
                               rtol=0, atol=0)
    vocab = Vocabulary.from_stats(text_run.data_stats)
    assert text_rows(out) == [[words(vocab, s) or "(empty)" for s in row] for row in rows]


def test_traversal_rows_differ_only_where_their_dimension_moves(lively_run, text_run, text_run_dir, tmp_path):
    from vaekit.viz.traverse import sweep_values, traverse

    model, x = lively_run.model, load_items(lively_run, "test", 50).x
    values = sweep_values(-2, 2, 5)  # the middle value, 0, is the base code's
    t = traverse(model, x, values=values)
    assert t.images.shape == (4, 5, model.event_shape[0]) and t.images.dtype == torch.int64
    for k, d in enumerate(t.dims):
        z = torch.zeros(5, 4)
        z[:, d] = values
        torch.testing.assert_close(t.images[k], model.decode(z), rtol=0, atol=0)
    base = model.decode(torch.zeros(1, 4))[0]
    assert all(torch.equal(row[2], base) for row in t.images)  # the dimension at 0: every row shows the base
    assert any(not torch.equal(s, base) for row in t.images for s in row)  # and elsewhere the sentence moves
    t = traverse(text_run.model, x, values=values)
    out = tmp_path / "traverse.txt"
    assert main(["traverse", str(text_run_dir), "--range", "-2", "2", "--steps", "5", "--limit", "50",
                 "--out", str(out)]) == 0
    vocab = Vocabulary.from_stats(text_run.data_stats)
    assert text_rows(out) == [[words(vocab, s) or "(empty)" for s in row] for row in t.images]


def test_manifold_of_sentences_is_numbered_rows_of_the_decoded_grid(text_run_dir, text_run, tmp_path):
    from vaekit.viz.manifold import manifold_codes

    out = tmp_path / "manifold.png"
    assert main(["manifold", str(text_run_dir), "-n", "3", "--dims", "1,2", "--out", str(out)]) == 0
    assert not out.exists()
    rows = torch.from_numpy(np.load(out.with_suffix(".npy")))
    expect = text_run.model.decode(manifold_codes(3, 4, (1, 2)).reshape(9, 4)).reshape(3, 3, -1)
    torch.testing.assert_close(rows, expect, rtol=0, atol=0)
    vocab = Vocabulary.from_stats(text_run.data_stats)
    assert text_rows(out.with_suffix(".txt")) == [[words(vocab, s) or "(empty)" for s in row] for row in expect]


def test_conversion_of_sentences_to_every_class(conditional_text_run_dir, tmp_path):
    run = load_run(conditional_text_run_dir)
    model, k = run.model, run.model.n_classes
    out = tmp_path / "conversion.txt"
    assert main(["convert", str(conditional_text_run_dir), "-n", "3", "--out", str(out)]) == 0
    rows = torch.from_numpy(np.load(out.with_suffix(".npy")))
    data = load_items(run, "test", 3)
    x, y = data.x, data.labels
    assert rows.shape == (3, 2 + k, run.event_shape[0])
    torch.testing.assert_close(rows[:, 0], x, rtol=0, atol=0)  # the input itself, ids intact
    torch.testing.assert_close(rows[:, 1], model.reconstruct(x, y), rtol=0, atol=0)
    for c in range(k):
        torch.testing.assert_close(rows[:, 2 + c], model.convert(x, y, torch.full_like(y, c)), rtol=0, atol=0)
    vocab = Vocabulary.from_stats(run.data_stats)
    assert text_rows(out)[1][0] == words(vocab, x[1])


def test_scatter_and_curves_of_a_sentence_run(text_run_dir, tmp_path):
    assert main(["scatter", str(text_run_dir), "--out", str(tmp_path / "s.png"), "--limit", "40"]) == 0
    assert (tmp_path / "s.png").stat().st_size > 1000 and np.load(tmp_path / "s.npy").shape == (30, 2)
    assert main(["curves", str(text_run_dir), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_report_of_a_sentence_run_shows_words_not_pictures(text_run_dir, lively_run, tmp_path, monkeypatch):
    ev = {"elbo": -24.5, "log_likelihood": -23.0, "nats_per_token": 1.92, "perplexity": 6.82, "unit": "nats/token",
          "unit_key": "nats_per_token", "active_units": 1, "latent_dim": 4, "k": 50, "n": 30, "split": "test"}
    (text_run_dir / "metrics.json").write_text(__import__("json").dumps(ev))
    monkeypatch.setattr("vaekit.runs.load_run", lambda *args, **kwargs: lively_run)
    try:
        page = write_report(text_run_dir, tmp_path / "report.html").read_text()
    finally:
        (text_run_dir / "metrics.json").unlink()
    found = dict(re.findall(r"<section><h2>(.*?)</h2>(.*?)</section>", page, flags=re.S))
    for title in ("Samples", "Reconstructions", "Interpolations", "Latent traversals", "2-D manifold"):
        assert "<img" not in found[title] and '<div class="sentences"' in found[title], title
    assert page.count("<img") == 2  # the loss curves and the latent scatter: plots, not items
    gen = torch.Generator().manual_seed(0)
    vocab = Vocabulary.from_stats(lively_run.data_stats)
    samples = [html.escape(words(vocab, s)) for s in lively_run.model.sample(64, generator=gen)]
    assert len(set(samples)) > 8  # 64 sentences, not all alike
    assert re.findall(r"<li>(.*?)</li>", found["Samples"]) == [s or "<i>(empty)</i>" for s in samples]
    x = load_items(lively_run, "test", 32).x
    assert html.escape(words(vocab, x[0])) in found["Reconstructions"]  # the test inputs, in words
    summary = html.unescape(re.search(r'<p class="summary">(.*?)</p>', page, flags=re.S).group(1))
    assert summary.startswith("LSTM sentence VAE, 4 latent dimensions, categorical likelihood")
    assert "test log p(x) -23.0 nats (1.92 nats/token, perplexity 6.82, k = 50)" in summary
    last = [r for r in lively_run.metrics if r.get("kind") == "epoch"][-1]
    assert f"validation KL(q(z|x) || p(z)) {last['val_rate']:.2f} nats" in summary
    assert f"({last['val_nats_per_token']:.3g} nats/token, perplexity {last['val_perplexity']:.3g})" in summary
    assert summary.endswith("active units 1 of 4.")
    table = dict(re.findall(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>", found["Metrics"]))
    assert table["perplexity, exp of nats/token"] == "6.82" and table["negative log p(x) in nats/token"] == \
        "1.9200 nats/token"
