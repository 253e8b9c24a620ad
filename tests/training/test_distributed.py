"""Data-parallel training under torchrun (2 CPU processes, gloo on loopback) against one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaekit.runs.metrics import read_metrics
from vaekit.training.distributed import DistEnv, shard

ARGS = ["--data", "shapes", "--image-size", "16", "--subset", "2000", "--hidden", "64", "--latent-dim", "4",
        "--batch-size", "64", "--lr", "5e-3", "--no-progress", "--grid", "16", "--no-compile", "--no-report",
        "--log-every", "5"]


def launch(nproc: int, *args: str) -> None:
    cmd = [sys.executable, "-m", "vaekit", "train", *ARGS, *args]
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               *cmd[1:]]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]


def records(run_dir: Path, kind: str) -> list[dict]:
    return [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == kind]


def test_shards_weight_an_uneven_last_batch_back_to_the_global_mean():
    x = torch.arange(7.0)
    for world in (1, 2, 3):
        parts = [shard(x, DistEnv(rank=r, world=world)) for r in range(world)]
        assert torch.equal(torch.cat([p for p, _ in parts]), x)  # contiguous slices, in rank order
        # DDP averages the ranks' gradients: (1/W) Σ_r w_r mean_r must be the global mean
        assert sum(w * p.mean() for p, w in parts) / world == pytest.approx(x.mean().item())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    launch(2, "--epochs", "3", "--out", str(d / "two"))
    launch(1, "--epochs", "3", "--out", str(d / "one"))
    return d / "one", d / "two"


def test_two_processes_follow_one_process_with_the_same_global_batch(runs):
    one, two = runs
    a, b = records(one, "epoch"), records(two, "epoch")
    assert [r["step"] for r in a] == [r["step"] for r in b] == [25, 50, 75]  # 1,600 training items / 64
    # Same global batches (order and binarization from the seed), only the ε of each rank differ:
    # measured differences up to 0.4 nats per epoch; the tolerance is 1.5 nats, the ELBO moves ~10.
    for ra, rb in zip(a, b, strict=True):
        assert abs(ra["train_elbo"] - rb["train_elbo"]) < 1.5
        assert abs(ra["val_elbo"] - rb["val_elbo"]) < 1.5
    assert b[-1]["val_elbo"] > records(two, "init")[0]["val_elbo"] + 5  # and it learns
    dist = records(two, "dist")
    assert len(dist) == 1 and dist[0]["weights_identical"] is True
    assert (dist[0]["world_size"], dist[0]["global_batch"], dist[0]["batch_per_rank"]) == (2, 64, 32)
    assert len(records(two, "init")) == 1  # rank 0 alone writes the log


def test_a_checkpoint_resumes_on_another_number_of_processes(runs, tmp_path):
    import shutil

    one, two = (shutil.copytree(r, tmp_path / r.name) for r in runs)
    launch(1, "--epochs", "4", "--resume", str(two))   # 2 -> 1
    launch(2, "--epochs", "4", "--resume", str(one))   # 1 -> 2
    for d in (one, two):
        ep = records(d, "epoch")
        assert [r["epoch"] for r in ep] == [1, 2, 3, 4] and ep[-1]["step"] == 100
        assert ep[-1]["val_elbo"] > ep[0]["val_elbo"]


def test_under_a_budget_every_rank_follows_rank_0s_clock(tmp_path):
    # each rank's own clock would give each its own lr and β, and weights that drift apart
    launch(2, "--epochs", "50", "--max-minutes", "0.05", "--schedule", "cosine", "--lr-min-ratio", "0.1",
           "--warmup-steps", "100000", "--out", str(tmp_path / "two"))
    ep, dist = records(tmp_path / "two", "epoch"), records(tmp_path / "two", "dist")
    assert len(ep) < 50 and ep[-1]["lr"] == 5e-3 * 0.1  # stopped by the budget, at the cosine's end
    assert dist[0]["weights_identical"] is True
