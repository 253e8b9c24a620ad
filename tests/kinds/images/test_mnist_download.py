"""MNIST download, offline: a local http.server mirror on 127.0.0.1 serves synthetic .gz files.

Checks: files land in the cache and parse; sha256 verified (a mismatch saves nothing, not even a .part);
a mirror that 404s or is unreachable falls through to the next; all mirrors failing says where to put the files."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.kinds.images.conftest import N_TRAIN_SMALL, NAMES, sha256_of
from vaekit.config import DataConfig
from vaekit.errors import DataError
from vaekit.kinds import load_split
from vaekit.kinds.images.mnist import MIRROR_SHA256, mnist_files

TIMEOUT = 5.0


def digests(root: Path) -> dict[str, str]:
    return {name: sha256_of(root / name) for name in NAMES}


def test_download_lands_in_the_cache_and_parses(tmp_path, clean_env, http_mirror):
    url, served = http_mirror
    folder = mnist_files(None, mirrors=[url], digests=digests(served), timeout=TIMEOUT)
    assert folder == clean_env
    for name in NAMES:
        assert (folder / name).read_bytes() == (served / name).read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(NAMES)  # no .part files left behind
    # the loader finds them in the cache (no --data-dir, no $VAEKIT_DATA) and parses them like the served ones
    te = load_split(DataConfig(dataset="mnist"), "test")
    ref = load_split(DataConfig(dataset="mnist", data_dir=str(served)), "test")
    assert torch.equal(te.x, ref.x) and torch.equal(te.labels, ref.labels)
    assert len(load_split(DataConfig(dataset="mnist"), "train")) == N_TRAIN_SMALL


def test_download_is_not_repeated_when_the_cache_has_the_files(tmp_path, clean_env, http_mirror, closed_port):
    url, served = http_mirror
    mnist_files(None, mirrors=[url], digests=digests(served), timeout=TIMEOUT)
    # a second call with only a dead mirror succeeds: nothing is fetched
    assert mnist_files(None, mirrors=[f"http://127.0.0.1:{closed_port}/"], timeout=TIMEOUT) == clean_env


def test_only_missing_files_are_downloaded(tmp_path, clean_env, http_mirror):
    url, served = http_mirror
    clean_env.mkdir(parents=True)
    (clean_env / NAMES[0]).write_bytes((served / NAMES[0]).read_bytes())
    bad = {**digests(served), NAMES[0]: "0" * 64}  # would fail if NAMES[0] were fetched again
    assert mnist_files(None, mirrors=[url], digests=bad, timeout=TIMEOUT) == clean_env
    assert digests(clean_env) == digests(served)


def test_default_digests_are_the_published_ones_so_fake_files_are_refused(tmp_path, clean_env, http_mirror):
    url, _ = http_mirror
    with pytest.raises(DataError, match="checksum mismatch") as e:
        mnist_files(None, mirrors=[url], timeout=TIMEOUT)  # digests=None: MIRROR_SHA256
    assert MIRROR_SHA256[NAMES[0]] in str(e.value)
    assert all(len(v) == 64 and int(v, 16) >= 0 for v in MIRROR_SHA256.values())
    assert set(MIRROR_SHA256) == set(NAMES)


@pytest.mark.parametrize("which", [0, 3])
def test_wrong_digest_names_the_file_and_both_digests_and_saves_nothing(tmp_path, clean_env, http_mirror, which):
    url, served = http_mirror
    name = NAMES[which]
    wanted = "ab" * 32
    bad = {**digests(served), name: wanted}
    with pytest.raises(DataError) as e:
        mnist_files(None, mirrors=[url], digests=bad, timeout=TIMEOUT)
    msg = str(e.value)
    assert name in msg and wanted in msg and sha256_of(served / name) in msg
    leftovers = [p.name for p in clean_env.iterdir()] if clean_env.exists() else []
    assert not any(name in p for p in leftovers), leftovers  # neither the file nor a .part
    assert not any(p.endswith(".part") for p in leftovers), leftovers
    assert sorted(leftovers) == sorted(NAMES[:which])  # the files verified before it stay


def test_a_mirror_that_404s_falls_through_to_the_next(tmp_path, clean_env, http_mirror):
    url, served = http_mirror
    folder = mnist_files(None, mirrors=[url + "nothing-here/", url], digests=digests(served), timeout=TIMEOUT)
    assert digests(folder) == digests(served)


def test_an_unreachable_mirror_falls_through_to_the_next(tmp_path, clean_env, http_mirror, closed_port):
    url, served = http_mirror
    folder = mnist_files(None, mirrors=[f"http://127.0.0.1:{closed_port}/", url], digests=digests(served),
                         timeout=TIMEOUT)
    assert digests(folder) == digests(served)


def test_mirror_urls_without_a_trailing_slash_work(tmp_path, clean_env, http_mirror):
    url, served = http_mirror
    assert digests(mnist_files(None, mirrors=[url.rstrip("/")], digests=digests(served), timeout=TIMEOUT)) \
        == digests(served)


def test_all_mirrors_unreachable_says_what_failed_and_where_to_put_the_files(tmp_path, clean_env, closed_port,
                                                                            monkeypatch):
    monkeypatch.setenv("VAEKIT_DATA", str(tmp_path / "vd"))
    dead = f"http://127.0.0.1:{closed_port}/"
    with pytest.raises(DataError, match="could not download") as e:
        mnist_files(None, mirrors=[dead], timeout=TIMEOUT)
    msg = str(e.value)
    assert NAMES[0] in msg and dead + NAMES[0] in msg
    for name in NAMES:
        assert name in msg
    assert str(clean_env) in msg and str(tmp_path / "vd" / "mnist") in msg
    assert "--data-dir" in msg and "VAEKIT_DATA" in msg
    assert not clean_env.exists() or not any(clean_env.iterdir())


def test_all_mirrors_404_lists_each_url(tmp_path, clean_env, http_mirror):
    url, _ = http_mirror
    with pytest.raises(DataError, match="could not download") as e:
        mnist_files(None, mirrors=[url + "a/", url + "b/"], digests={n: "0" * 64 for n in NAMES}, timeout=TIMEOUT)
    assert f"{url}a/{NAMES[0]}" in str(e.value) and f"{url}b/{NAMES[0]}" in str(e.value)
    assert "404" in str(e.value)


# --- a mirror that breaks the connection mid-file ---------------------------------------------------------------


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    """Promises 100,000 bytes, sends 10, closes the connection."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def short_mirror() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_mirror_that_cuts_the_transfer_falls_through_to_the_next(tmp_path, clean_env, http_mirror, short_mirror):
    url, served = http_mirror
    folder = mnist_files(None, mirrors=[short_mirror, url], digests=digests(served), timeout=TIMEOUT)
    assert digests(folder) == digests(served)


def test_a_cut_transfer_from_the_only_mirror_is_a_data_error(tmp_path, clean_env, short_mirror):
    with pytest.raises(DataError, match="could not download"):
        mnist_files(None, mirrors=[short_mirror], digests={n: "0" * 64 for n in NAMES}, timeout=TIMEOUT)
