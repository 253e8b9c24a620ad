"""A tiny trained run shared by the explorer tests (trained once: a few seconds)."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vaekit.cli import main

    d = tmp_path_factory.mktemp("explore") / "run"
    assert main(["train", "--data", "shapes", "--image-size", "16", "--subset", "1200", "--hidden", "32",
                 "--latent-dim", "3", "--epochs", "1", "--batch-size", "64", "--no-progress", "--grid", "16",
                 "--no-compile", "--out", str(d)]) == 0
    return d


CLASSES = ("bar", "ring", "square")  # the class folders of the conditional image run, in label order


def class_folder(root: Path, per_class: int = 40, size: int = 16) -> Path:
    """A `folder` data set of three classes of grey pictures (subfolders bar/, ring/, square/), each class's
    figure drawn at random places and sizes (seeded), `per_class` PNGs a class."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            r, cy, cx = rng.integers(3, 6), rng.integers(5, size - 5), rng.integers(5, size - 5)
            dy, dx = np.abs(yy - cy), np.abs(xx - cx)
            figure = {"bar": (dy <= 1) & (dx <= r + 2), "square": (dy <= r) & (dx <= r),
                      "ring": np.abs(np.hypot(dy, dx) - r) <= 0.8}[name]
            Image.fromarray((figure * 255).astype(np.uint8)).save(root / name / f"{k:02d}.png")
    return root


@pytest.fixture(scope="session")
def conditional_image_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class-conditional image run (`--conditional` on a `folder` of three classes), one epoch."""
    from vaekit.cli import main

    base = tmp_path_factory.mktemp("explore-cond")
    d = base / "run"
    assert main(["train", "--data", "folder", "--data-dir", str(class_folder(base / "images")), "--image-size", "16",
                 "--channels", "1", "--hidden", "32", "--latent-dim", "3", "--conditional", "--epochs", "1",
                 "--batch-size", "16", "--no-progress", "--no-report", "--grid", "9", "--no-compile",
                 "--out", str(d)]) == 0
    return d


@pytest.fixture(scope="session")
def app(run_dir: Path):
    from vaekit.explore.app import create_app

    return create_app(run_dir)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def _serve(target: str, tmp_path_factory: pytest.TempPathFactory):
    """`vaekit explore TARGET --port 0` in a subprocess (the real command, uvicorn and all); yields its URL."""
    pytest.importorskip("uvicorn", reason="the explorer needs the explore extra: pip install -e '.[dev]'")
    log = tmp_path_factory.mktemp("served") / "stderr.txt"  # a file, not a pipe: a full pipe would stall it
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "vaekit", "explore", target, "--port", "0"],
                                stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"no URL from vaekit explore: {line!r}\n{log.read_text()}"
        yield match.group(0)
    finally:
        proc.send_signal(signal.SIGINT)  # uvicorn shuts down cleanly on Ctrl+C
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def served(run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The explorer of the tiny image run, served; yields its URL.

    VAEKIT_EXPLORER_RUN=DIR serves another run instead (e.g. an MNIST one for the docs' screenshot)."""
    yield from _serve(os.environ.get("VAEKIT_EXPLORER_RUN") or str(run_dir), tmp_path_factory)


@pytest.fixture(scope="session")
def served_text(text_run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The explorer of the tiny sentence run, served; yields its URL."""
    yield from _serve(str(text_run_dir), tmp_path_factory)


@pytest.fixture(scope="session")
def served_sound(sound_run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The explorer of the tiny sound run, served; yields its URL."""
    yield from _serve(str(sound_run_dir), tmp_path_factory)


@pytest.fixture(scope="session")
def served_conditional(conditional_image_run_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The explorer of the tiny class-conditional image run, served; yields its URL."""
    yield from _serve(str(conditional_image_run_dir), tmp_path_factory)
