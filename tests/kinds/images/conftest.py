"""Fixtures of the data-layer tests: synthetic MNIST IDX files, a clean MNIST lookup environment,
and a local HTTP mirror (127.0.0.1, in a thread, shut down in teardown)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vaekit.kinds.images import mnist as mnist_mod

NAMES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
N_TRAIN_SMALL = 8  # monkeypatched mnist.N_TRAIN: the fake train file has 12 images -> 8 train / 4 val


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    """The uncompressed IDX encoding, written independently of vaekit's parser."""
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.asarray(arr, dtype=np.uint8).tobytes()


def write_idx(path: Path, arr: np.ndarray, magic: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(idx_bytes(arr, magic), mtime=0))


def fake_mnist(folder: Path, n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, np.ndarray]:
    """Four synthetic gzipped IDX files in `folder`; returns the arrays written."""
    g = np.random.default_rng(seed)
    arrays = {
        "train_x": g.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
        "train_y": g.integers(0, 10, n_train).astype(np.uint8),
        "test_x": g.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
        "test_y": g.integers(0, 10, n_test).astype(np.uint8),
    }
    write_idx(folder / NAMES[0], arrays["train_x"], 2051)
    write_idx(folder / NAMES[1], arrays["train_y"], 2049)
    write_idx(folder / NAMES[2], arrays["test_x"], 2051)
    write_idx(folder / NAMES[3], arrays["test_y"], 2049)
    return arrays


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No $VAEKIT_DATA, the user cache under tmp, a small N_TRAIN. Returns the cache's mnist folder."""
    monkeypatch.delenv("VAEKIT_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(mnist_mod, "N_TRAIN", N_TRAIN_SMALL)
    return tmp_path / "xdg" / "vaekit" / "mnist"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_mirror(tmp_path) -> Iterator[tuple[str, Path]]:
    """A local mirror serving fake MNIST files from tmp_path/served: yields (base url, served folder)."""
    root = tmp_path / "served"
    fake_mnist(root, seed=7)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             lambda *a: _QuietHandler(*a, directory=str(root)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
