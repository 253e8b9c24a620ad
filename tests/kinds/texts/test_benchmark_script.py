"""benchmarks/texts.py --smoke: every model trains and is evaluated, each remedy reaches its run's config as
the overrides it names, the language model's figures are exact, and the table lands in the page given."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
texts = importlib.import_module("texts")  # benchmarks/texts.py


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    doc = root / "results.md"
    doc.write_text("# Results\n\nText that stays.\n")
    results = texts.main(["--smoke", "--write", "--doc", str(doc), "--runs", str(root / "runs"),
                          "--json", str(root / "results.json")])
    return results, root, doc


def test_every_model_is_trained_and_evaluated(smoke):
    results, root, _ = smoke
    expected = {"lm", "vae", "warmup", "word-dropout", "free-bits", "aggressive", "cvae", "cvae-word-dropout",
                "cvae-beta", "conversions"}
    assert set(results) == expected
    assert json.loads((root / "results.json").read_text())["vae"]["n"] == 60  # 10 % of --subset 600
    lm = results["lm"]
    assert lm["kl"] == 0.0 and lm["active_units"] == 0
    assert lm["nll"] == pytest.approx(-lm["elbo"], abs=1e-3)  # no latent: the ELBO is the exact log p(x)
    for key in expected - {"conversions"}:
        r = results[key]
        assert r["epochs"] == 2 and r["perplexity"] == pytest.approx(2.718281828 ** r["nats_per_token"], rel=1e-9)
        assert r["nll"] <= -r["elbo"] + 1e-3  # the k = 5 bound is at least the ELBO (up to the draws' noise)


def test_each_remedy_is_its_config_overrides(smoke):
    _, root, _ = smoke
    cfg = {key: json.loads((root / "runs" / key / "config.json").read_text())
           for key in ("lm", "vae", "warmup", "word-dropout", "free-bits", "aggressive", "cvae", "cvae-word-dropout",
                       "cvae-beta")}
    assert cfg["lm"]["model"]["arch"] == "lm" and cfg["vae"]["model"]["arch"] == "lstm"
    assert cfg["warmup"]["train"]["warmup_steps"] == 20 and cfg["vae"]["train"]["warmup_steps"] == 0
    assert cfg["word-dropout"]["model"]["word_dropout"] == 0.5 and cfg["vae"]["model"]["word_dropout"] == 0.0
    assert cfg["free-bits"]["train"]["free_bits"] == 0.5 and cfg["vae"]["train"]["free_bits"] == 0.0
    assert cfg["aggressive"]["train"]["aggressive"] and not cfg["vae"]["train"]["aggressive"]
    assert cfg["aggressive"]["train"]["warmup_steps"] == 20  # He et al. anneal the KL weight in every model
    beta = cfg["cvae-beta"]
    assert beta["model"]["conditional"] and beta["model"]["word_dropout"] == 0.3 and beta["train"]["beta"] == 0.05
    assert cfg["cvae"]["model"]["conditional"] and cfg["cvae"]["model"]["n_classes"] == 5
    both = cfg["cvae-word-dropout"]
    assert both["model"]["conditional"] and both["model"]["word_dropout"] == 0.5 and both["train"]["warmup_steps"] == 20
    for key in cfg:  # the same decoder for all, trained on 400 of the 480 training sentences: 13 steps an epoch
        assert (cfg[key]["model"]["embed_dim"], cfg[key]["model"]["rnn_hidden"]) == (16, 32)
        epochs = [json.loads(line) for line in (root / "runs" / key / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in epochs if r["kind"] == "epoch"] == [13, 26]


def test_the_conversion_measures_are_reported_for_each_conditional_model(smoke):
    conversions = smoke[0]["conversions"]
    assert set(conversions) == {"cvae", "cvae-word-dropout", "cvae-beta"}
    for c in conversions.values():
        assert c["n"] == 60 and c["classifier_test_accuracy"] >= 95.0  # text-shapes: the object word decides
        assert 0.0 <= c["transfer_accuracy"] <= 100.0 and 0.0 <= c["bleu"] <= 100.0 and c["perplexity"] > 1.0
        assert 0.0 <= c["reconstruction_bleu"] <= 100.0


def test_the_table_lands_in_the_page_given(smoke):
    _, _, doc = smoke
    text = doc.read_text()
    assert text.startswith("# Results\n\nText that stays.\n")
    assert "<!-- text-results:start -->" in text and "<!-- text-results:end -->" in text
    assert "| LSTM language model | " in text and "| VAE + free bits λ = 0.5 | " in text
    assert "transfer accuracy" in text and "--smoke" in text
    assert ("| measure | conditional VAE (given the label) | conditional VAE + word dropout 0.5 + KL warm-up | "
            "conditional VAE, β = 0.05 + word dropout 0.3 | reference |") in text
    assert "| BLEU-4 of the reconstructions (own class) | " in text


def test_smoke_figures_never_overwrite_the_real_page(capsys):
    with pytest.raises(SystemExit):
        texts.parse(["--smoke", "--write"])
    assert "--smoke --write needs an explicit --doc" in capsys.readouterr().err
