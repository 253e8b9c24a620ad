"""The compile cache (vaekit.fast.cache): a key that changes with everything that shapes the graph, records
written atomically and read back, and a corrupt, truncated or foreign entry ignored (one log line) and
rewritten, never trusted."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from tests.conftest import tiny_config
from vaekit.fast import cache


def key(cfg=None, shape=(1, 16, 16), dtype=torch.float32, drawn=True):
    return cache.graph_key(cfg or tiny_config(), shape, dtype, drawn, torch.device("cpu"))


def test_the_key_changes_with_torch_python_config_shapes_and_cpu(monkeypatch):
    base = cache.key_name(key())
    assert cache.key_name(key()) == base  # the same graph, the same entry
    other_model = tiny_config()
    other_model.model.latent_dim = 5
    other_batch = tiny_config(batch_size=64)
    changed = [key(other_model), key(other_batch), key(tiny_config(precision="bf16")), key(shape=(1, 28, 28)),
               key(dtype=torch.float64), key(drawn=False)]
    names = {cache.key_name(k) for k in changed}
    assert len(names) == len(changed) and base not in names
    assert cache.key_name(key(tiny_config(lr=0.1, epochs=9))) == base  # lr, epochs: not in the graph
    for target, value in ((torch, "9.9.9"), (cache.platform, None), (cache, None), (torch.backends.cpu, None)):
        with monkeypatch.context() as m:
            if target is torch:
                m.setattr(torch, "__version__", value)
            elif target is cache.platform:
                m.setattr(cache.platform, "python_version", lambda: "3.99.0")
            elif target is cache:
                m.setattr(cache, "cpu_flags", lambda: "other-flags")
            else:
                m.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "NO AVX")
            assert cache.key_name(key()) != base


def test_cpu_flags_are_a_stable_digest():
    assert cache.cpu_flags() == cache.cpu_flags()


def test_a_record_round_trips_and_leaves_no_temporary_file(tmp_path):
    k = key()
    rec = cache.Record(compile_seconds=4.2, compiles=2, eager_step=0.011, compiled_step=0.0072)
    cache.write_record(tmp_path, k, rec)
    assert cache.read_record(tmp_path, k) == rec
    assert [p.name for p in (tmp_path / "records").iterdir()] == [f"{cache.key_name(k)}.json"]
    assert cache.read_record(tmp_path, key(drawn=False)) is None  # another graph: no entry
    assert cache.read_record(None, k) is None  # the cache turned off


@pytest.mark.parametrize("content", [
    b"",                                                     # empty
    b'{"key": {"version": 1}, "compile_seconds": 4.',        # truncated
    b"\x80\x04\x95 pickle bytes",                            # not JSON (nor UTF-8)
    b"[1, 2, 3]",                                            # not a record
    "FOREIGN",                                               # another key's record under this name
    "NEGATIVE",                                              # numbers that cannot be timings
    "NAN",
])
def test_a_corrupt_or_foreign_entry_is_ignored_with_one_line_and_rewritten(tmp_path, caplog, content):
    k = key()
    path = cache.record_path(tmp_path, k)
    path.parent.mkdir(parents=True)
    good = {"compile_seconds": 4.0, "compiles": 1, "eager_step": 0.01, "compiled_step": 0.005}
    if content == "FOREIGN":
        content = json.dumps({"key": key(drawn=False), **good}).encode()
    elif content == "NEGATIVE":
        content = json.dumps({"key": k, **good, "compile_seconds": -3.0}).encode()
    elif content == "NAN":
        content = json.dumps({"key": k, **good, "eager_step": float("nan")}).encode()
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="vaekit.fast"):
        assert cache.read_record(tmp_path, k) is None
    lines = [r for r in caplog.records if "compile cache entry" in r.getMessage()]
    assert len(lines) == 1 and str(path) in lines[0].getMessage()
    rec = cache.Record(compile_seconds=5.0)
    cache.write_record(tmp_path, k, rec)
    assert cache.read_record(tmp_path, k) == rec


def test_the_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "vaekit" / "compiled"
    monkeypatch.setenv(cache.ENV, str(tmp_path / "mine"))
    assert cache.cache_root() == tmp_path / "mine"
    monkeypatch.setenv(cache.ENV, "off")
    assert cache.cache_root() is None


def test_inductor_uses_the_cache_folder_unless_the_user_chose_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    cache.use_for_inductor(tmp_path)
    assert cache.os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "inductor")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/elsewhere")
    cache.use_for_inductor(tmp_path)
    assert cache.os.environ["TORCHINDUCTOR_CACHE_DIR"] == "/elsewhere"


def test_an_unwritable_cache_costs_a_log_line_not_the_run(tmp_path, caplog):
    (tmp_path / "records").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="vaekit.fast"):
        cache.write_record(tmp_path, key(), cache.Record(compile_seconds=1.0))
    assert any("cannot write the compile cache" in r.getMessage() for r in caplog.records)
