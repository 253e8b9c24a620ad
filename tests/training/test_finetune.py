"""Fine-tuning (--init-from) and model selection on the validation log-likelihood (--eval-k)."""

from __future__ import annotations

import json

import pytest

import vaekit
from tests.conftest import tiny_config
from vaekit.errors import CheckpointError, ConfigError
from vaekit.runs.metrics import read_metrics


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    return vaekit.train(tiny_config(epochs=2), out=tmp_path_factory.mktemp("ft") / "base")


def test_init_from_starts_at_the_source_runs_best_weights(tmp_path, base_run):
    best = json.loads((base_run.dir / "checkpoints" / "best.json").read_text())
    run = vaekit.train(tiny_config(epochs=1, init_from=str(base_run.dir), objective="iwae", iwae_k=3),
                       out=tmp_path / "ft")
    init = next(r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "init")
    # the same validation of the same weights: the fine-tune's step-0 ELBO is the source's best
    assert init["val_elbo"] == pytest.approx(best["best_val"], abs=1e-9)
    fresh = next(r for r in read_metrics(base_run.dir / "metrics.jsonl") if r["kind"] == "init")
    assert init["val_elbo"] > fresh["val_elbo"] + 5  # far from a fresh initialisation


def test_init_from_refuses_another_model_or_a_missing_folder(tmp_path, base_run):
    cfg = tiny_config(init_from=str(base_run.dir))
    cfg.model.latent_dim = 5
    with pytest.raises(ConfigError, match=r"model\.latent_dim"):
        vaekit.train(cfg, out=tmp_path / "a")
    with pytest.raises(CheckpointError, match=r"--init-from: run folder .* does not exist"):
        vaekit.train(tiny_config(init_from=str(tmp_path / "nowhere")), out=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # nothing written


@pytest.mark.parametrize("eval_k", [0, 4])
def test_best_checkpoint_is_chosen_by_the_validation_bound(tmp_path, eval_k):
    run = vaekit.train(tiny_config(epochs=3, objective="iwae", iwae_k=4, eval_k=eval_k), out=tmp_path / "r")
    epochs = [r for r in read_metrics(run.dir / "metrics.jsonl") if r["kind"] == "epoch"]
    key = "val_log_likelihood" if eval_k else "val_elbo"
    chosen = max(epochs, key=lambda r: r[key])
    best = json.loads((run.dir / "checkpoints" / "best.json").read_text())
    assert best["epoch"] == chosen["epoch"]
    assert best["best_val"] == pytest.approx(chosen[key], abs=1e-9)
    if eval_k:  # the bound with k = 4 lies above the ELBO of the same weights
        assert chosen["val_log_likelihood"] > chosen["val_elbo"]
