"""Faults: a locked run folder, an unwritable or full location, a damaged checkpoint, and SIGKILL at
random moments; every case either refuses clearly or ends exactly like an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vaekit
from tests.conftest import tiny_config
from vaekit.errors import CheckpointError, ConfigError
from vaekit.runs.lock import RunLock
from vaekit.runs.metrics import read_metrics

KEYS = ("step", "train_elbo", "train_rate", "train_distortion", "val_elbo", "val_rate", "val_distortion", "lr")


def epochs_of(run_dir: Path) -> list[dict]:
    return [{k: r[k] for k in KEYS} for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]


def test_a_run_folder_in_use_is_refused(tmp_path):
    run = vaekit.train(tiny_config(epochs=1), out=tmp_path / "run")
    with RunLock(run.dir), pytest.raises(ConfigError, match="in use by pid"):
        vaekit.train(tiny_config(epochs=2), resume=run.dir)
    assert len(epochs_of(run.dir)) == 1  # nothing was trained or written by the refused run
    vaekit.train(tiny_config(epochs=2), resume=run.dir)  # the lock went with its holder
    assert len(epochs_of(run.dir)) == 2


def test_unwritable_or_full_location_is_detected_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="not writable"):
        vaekit.train(tiny_config(epochs=1), out=blocker / "run")
    import shutil

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=10 * 2**20))
    with pytest.raises(ConfigError, match="only 10 MiB free"):
        vaekit.train(tiny_config(epochs=1), out=tmp_path / "full")
    assert not (tmp_path / "full" / "metrics.jsonl").exists()


def test_a_corrupted_last_checkpoint_falls_back_to_the_previous_one(tmp_path):
    full = vaekit.train(tiny_config(epochs=3), out=tmp_path / "full")
    part = vaekit.train(tiny_config(epochs=2), out=tmp_path / "part")
    f = part.dir / "checkpoints" / "last.safetensors"
    f.write_bytes(f.read_bytes()[:-100])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match="previous checkpoint"):
        vaekit.train(tiny_config(epochs=3), resume=part.dir)  # continues from epoch 1's checkpoint
    assert epochs_of(part.dir) == epochs_of(full.dir)
    # both damaged: a clear error naming both problems
    for name in ("last.safetensors", "prev.safetensors"):
        (part.dir / "checkpoints" / name).write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="previous checkpoint"):
        vaekit.train(tiny_config(epochs=4), resume=part.dir)


KILL_ARGS = ["--data", "shapes", "--image-size", "16", "--subset", "4000", "--hidden", "64", "--latent-dim", "4",
             "--epochs", "10", "--batch-size", "32", "--lr", "5e-3", "--no-progress", "--grid", "16", "--no-compile",
             "--no-report", "--log-every", "5"]


def _train(out: Path, resume: bool) -> subprocess.Popen:
    where = ["--resume", str(out)] if resume else ["--out", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "vaekit", "train", *KILL_ARGS, *where], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _training_started(out: Path) -> bool:
    try:
        return any(r["kind"] in ("step", "epoch") for r in read_metrics(out / "metrics.jsonl"))
    except Exception:  # a file being rewritten by the resumed run
        return False


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_ends_like_an_uninterrupted_run(tmp_path):
    rng = random.Random(1234)
    ref, out = tmp_path / "ref", tmp_path / "killed"
    assert _train(ref, resume=False).wait(timeout=600) == 0
    kills, started = 0, False
    while kills < 6:
        proc = _train(out, resume=started)
        deadline = time.monotonic() + 120
        while not _training_started(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 2.0))  # somewhere in training, validation or checkpoint writing
        if proc.poll() is not None:
            break  # it finished before this kill
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        started = started or (out / "config.json").exists()
    final = _train(out, resume=True)
    _, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    assert kills >= 5
    assert epochs_of(out) == epochs_of(ref)  # exactly the same numbers, epoch by epoch
    steps = lambda d: [(r["step"], r["loss"]) for r in read_metrics(d / "metrics.jsonl") if r["kind"] == "step"]  # noqa: E731
    assert steps(out) == steps(ref)
    a, b = (d / "checkpoints" / "last.safetensors" for d in (ref, out))
    assert a.read_bytes() == b.read_bytes()
