"""The commands on a sentence run: sample and reconstruct write sentences with every decoding, evaluate
reports nats per token and the perplexity (for the language model, its exact log-likelihood), and bad
decoding flags get clear errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.conftest import tiny_text_run
from vaekit.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("texts")
    return {arch: str(tiny_text_run(root / arch, arch)) for arch in ("lstm", "lm")}


@pytest.mark.parametrize("decoding", ["mean", "sample", "beam"])
def test_sample_writes_numbered_sentences(runs, tmp_path, decoding, capsys):
    out = tmp_path / "samples.png"
    assert main(["sample", runs["lstm"], "-n", "5", "--decoding", decoding, "--out", str(out)]) == 0
    lines = (tmp_path / "samples.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split()[0] for line in lines] == ["1", "2", "3", "4", "5"]
    assert all(len(line.split()) >= 2 for line in lines)  # a number and at least one word
    assert (tmp_path / "samples.npy").exists()


def test_reconstruct_writes_inputs_then_their_reconstructions(runs, tmp_path):
    out = tmp_path / "recon.png"
    assert main(["reconstruct", runs["lstm"], "-n", "4", "--decoding", "beam", "--beam", "2",
                 "--out", str(out)]) == 0
    rows = (tmp_path / "recon.txt").read_text(encoding="utf-8").strip().split("\n\n")
    # the 3 inputs of a row (round(sqrt(2 x 4)) to a row), then their 3 reconstructions, numbered alike
    assert [[line.split()[0] for line in row.splitlines()] for row in rows] == [["1", "2", "3"]] * 2
    inputs = rows[0].splitlines()[0].split()[1:]
    assert len(inputs) >= 3 and "<unk>" not in inputs  # a text-shapes sentence, read back in words


def test_the_language_model_evaluates_to_its_exact_perplexity(runs, capsys):
    assert main(["evaluate", runs["lm"], "--k", "8", "--limit", "40"]) == 0
    res = json.loads((__import__("pathlib").Path(runs["lm"]) / "metrics.json").read_text())
    assert res["unit"] == "nats/token" and res["active_units"] == 0
    assert res["log_likelihood"] == pytest.approx(res["elbo"], abs=1e-4)  # exact for the LM
    assert res["k"] == 1  # p(x|z) = p(x) and q = p: one draw is exact, asked for 8
    from vaekit.data import random_items
    from vaekit.kinds import load_split
    from vaekit.runs import load_run

    run = load_run(runs["lm"])
    test = random_items(load_split(run.config.data, "test", stats=run.data_stats), 40, 0)
    with torch.no_grad():  # the exact log p(x): the decoder's teacher-forced log-probability of each sentence
        exact = run.model.likelihood_head(run.model.decoder(torch.zeros(len(test), 4))).log_prob(test.x).double().mean()
    assert res["log_likelihood"] == pytest.approx(float(exact), abs=1e-4)
    assert res["perplexity"] == pytest.approx(math.exp(res["nats_per_token"]), rel=1e-9)
    assert 1.0 < res["perplexity"] < 100.0  # a vocabulary of ~40 words, after one epoch
    assert "perplexity" in capsys.readouterr().out


@pytest.mark.parametrize(("flags", "message"), [
    (["--decoding", "sample", "--temperature", "0"], "--temperature 0.0 must be > 0"),
    (["--decoding", "beam", "--beam", "0"], "--beam 0 must be >= 1"),
])
def test_bad_decoding_flags_are_refused(runs, tmp_path, flags, message, capsys):
    assert main(["sample", runs["lstm"], "-n", "2", "--out", str(tmp_path / "s.png"), *flags]) == 2
    assert message in capsys.readouterr().err
