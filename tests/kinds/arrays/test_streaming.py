"""array data with in_memory=False: a .npy read from disk batch by batch (vaekit.kinds.arrays.stream).

Streamed and in-memory loading give the same statistics and items; training over a file several times
larger than a memory cap keeps the process's peak RSS under the cap.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaekit.cli import main
from vaekit.config import DataConfig
from vaekit.data import TensorData, iterate_batches
from vaekit.errors import DataError
from vaekit.kinds import load_split
from vaekit.kinds.arrays import stream as stream_mod
from vaekit.kinds.arrays.stream import StreamedArrayData

SPLITS = ("train", "val", "test")


def cfg(path: Path, in_memory: bool, **kw) -> DataConfig:
    return DataConfig(dataset="array", data_dir=str(path), in_memory=in_memory, **kw)


def both(path: Path, **kw) -> list[tuple[TensorData, StreamedArrayData]]:
    """(in-memory, streamed) pairs of the three splits, each split with its own train statistics."""
    mem, st = load_split(cfg(path, True, **kw), "train"), load_split(cfg(path, False, **kw), "train")
    pairs = [(mem, st)]
    for split in SPLITS[1:]:
        pairs.append((load_split(cfg(path, True, **kw), split, stats=mem.stats),
                      load_split(cfg(path, False, **kw), split, stats=st.stats)))
    return pairs


def items(data, generator: torch.Generator | None = None) -> torch.Tensor:
    return torch.cat([x for x, _ in iterate_batches(data, 16, shuffle=generator is not None, generator=generator)])


@pytest.mark.parametrize("dtype, shape", [("float32", (203, 5)), ("float64", (97, 2, 3)), ("int16", (50, 4)),
                                          ("uint8", (64, 7)), ("bool", (40, 3))])
def test_streamed_and_in_memory_give_the_same_stats_and_items(tmp_path, monkeypatch, dtype, shape):
    monkeypatch.setattr(stream_mod, "CHUNK_BYTES", 100)  # many chunks: the merge of partial statistics is tested
    g = np.random.default_rng(3)
    x = (g.normal(50, 20, shape) * (np.arange(shape[-1]) + 1)).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    pairs = both(tmp_path / "x.npy")
    mem, st = pairs[0]
    np.testing.assert_allclose(st.stats["mean"], mem.stats["mean"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(st.stats["std"], mem.stats["std"], rtol=1e-5, atol=1e-5)
    for m, s in pairs:
        assert len(s) == len(m) and s.event_shape == m.event_shape == shape[1:]
        torch.testing.assert_close(items(s), m.x, rtol=1e-5, atol=1e-5)
        gen = lambda: torch.Generator().manual_seed(7)  # noqa: E731 - the same shuffled order on both paths
        torch.testing.assert_close(items(s, gen()), items(m, gen()), rtol=1e-5, atol=1e-5)


def test_streamed_data_mirrors_the_lazy_image_data_attributes(tmp_path):
    x = np.arange(300, dtype=np.float32).reshape(100, 3)
    np.save(tmp_path / "x.npy", x)
    mem, st = both(tmp_path / "x.npy", workers=0)[0]
    assert isinstance(st, torch.utils.data.Dataset) and not isinstance(st, TensorData)
    assert (st.labels, st.is_image, st.binarize, st.workers, st.label_names) == (None, False, "none", 0, None)
    assert st.stats == mem.stats and len(st) == 80 and st.event_shape == (3,)
    first, label = st[0]
    assert label is None and torch.equal(first, mem.x[0])
    taken = st.take(5)
    assert isinstance(taken, TensorData) and torch.equal(taken.x, mem.x[:5]) and taken.stats == mem.stats
    assert torch.equal(st.select(torch.tensor([9, 2, 40])).x, mem.x[[9, 2, 40]])
    assert torch.equal(st.x[:4], mem.x[:4]) and torch.equal(st.x[7], mem.x[7]) and st.x.shape == (80, 3)
    clone = pickle.loads(pickle.dumps(st))  # what a spawned DataLoader worker gets: no open file inside
    assert torch.equal(items(clone), mem.x)


def test_dataloader_workers_give_the_same_batches(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(120, 4)).astype(np.float32))
    st0 = load_split(cfg(tmp_path / "x.npy", False), "train")
    st2 = load_split(cfg(tmp_path / "x.npy", False, workers=2), "train")
    assert st2.workers == 2
    gen = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    torch.testing.assert_close(items(st2, gen()), items(st0, gen()), rtol=0, atol=0)


def test_npz_without_in_memory_says_to_convert_it(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.ones((10, 2)))
    with pytest.raises(DataError) as e:
        load_split(cfg(tmp_path / "d.npz", False), "train")
    assert str(e.value) == (f"array file {tmp_path / 'd.npz'} is an .npz, whose (compressed) members cannot be read "
                            "row by row; with --no-in-memory convert it to .npy first: "
                            "np.save('x.npy', np.load('d.npz')['x'])")


def test_a_nan_in_a_late_chunk_gives_the_in_memory_message(tmp_path, monkeypatch):
    monkeypatch.setattr(stream_mod, "CHUNK_BYTES", 64)
    x = np.ones((90, 4))
    x[77, 2] = np.nan
    x[80, 0] = np.inf
    np.save(tmp_path / "n.npy", x)
    for in_memory in (True, False):
        with pytest.raises(DataError) as e:
            load_split(cfg(tmp_path / "n.npy", in_memory), "val")
        assert str(e.value) == f"{tmp_path / 'n.npy'}: 2 NaN/inf values (first in item 77)"


def test_fortran_order_and_a_file_cut_while_training_are_data_errors(tmp_path):
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((10, 3))))
    with pytest.raises(DataError, match="Fortran order"):
        load_split(cfg(tmp_path / "f.npy", False), "train")
    np.save(tmp_path / "c.npy", np.ones((50, 3)))
    data = load_split(cfg(tmp_path / "c.npy", False), "train")
    raw = (tmp_path / "c.npy").read_bytes()
    (tmp_path / "c.npy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"c\.npy changed while being read"):
        items(data)


def test_cli_trains_on_streamed_arrays_and_lazy_folders(tmp_path, capsys):
    x = np.random.default_rng(0).normal(3.0, 2.0, (300, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for i in range(8):
        Image.new("L", (10 + i, 12), 30 * i).save(tmp_path / f"img{i}.png")
    (tmp_path / "data").mkdir()
    for f in tmp_path.glob("img*.png"):
        f.rename(tmp_path / "data" / f.name)
    tiny = ["--epochs", "1", "--batch-size", "32", "--hidden", "16", "--latent-dim", "2", "--no-compile",
            "--no-progress", "--no-report", "--threads", "1"]
    runs = {}
    for name, extra in (("mem", []), ("stream", ["--no-in-memory"])):
        assert main(["train", "--data", "array", "--data-dir", str(tmp_path / "x.npy"), "--likelihood", "gaussian",
                     *extra, *tiny, "--out", str(tmp_path / name)]) == 0
        runs[name] = json.loads((tmp_path / name / "data_stats.json").read_text())
    np.testing.assert_allclose(runs["stream"]["mean"], runs["mem"]["mean"], rtol=1e-6)
    np.testing.assert_allclose(runs["stream"]["std"], runs["mem"]["std"], rtol=1e-6)
    assert main(["train", "--data", "folder", "--data-dir", str(tmp_path / "data"), "--image-size", "8",
                 "--channels", "1", "--no-in-memory", "--val-fraction", "0.15", *tiny, "--out",
                 str(tmp_path / "lazy")]) == 0
    assert (tmp_path / "lazy" / "samples.png").is_file()
    capsys.readouterr()


# --- data larger than memory ------------------------------------------------------------------------------------

CHILD = r'''
"""Run `vaekit train ARGS`, sampling /proc/self/status every 5 ms; print the peaks as JSON."""
import collections, json, sys, threading, time
from vaekit.cli import main
from vaekit.kinds.arrays import stream

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out

peaks, done = collections.Counter(), threading.Event()
def sample():
    while not done.is_set():
        for key, value in status().items():
            peaks[key] = max(peaks[key], value)
        time.sleep(0.005)

served = collections.Counter()  # rows read per split (keyed by split length) through the streaming path
batch = stream.StreamedArrayData.batch
def counting(self, positions):
    served[len(self)] += len(positions)
    return batch(self, positions)
stream.StreamedArrayData.batch = counting

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
code = main(sys.argv[1:])
done.set()
sampler.join()
final = status()
print(json.dumps({"code": code, "VmHWM": final["VmHWM"], "peak_RssAnon": peaks["RssAnon"],
                  "peak_RssFile": peaks["RssFile"], "served": dict(served)}))
'''


def write_npy(path: Path, n: int, d: int) -> None:
    """A float32 (n, d) .npy written in 16 MB chunks, so that this process never holds it either."""
    g = np.random.default_rng(0)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (n, d)})
        step = (16 << 20) // (4 * d)
        for start in range(0, n, step):
            f.write((g.standard_normal((min(step, n - start), d), dtype=np.float32) * 2.0 + 1.0).tobytes())


def run_child(tmp_path: Path, name: str, data: Path, *extra: str) -> dict:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    # --threads 1: two torch threads on the two shared cores contend (measured 10x slower when a core is busy)
    args = ["train", "--data", "array", "--data-dir", str(data), "--epochs", "1", "--batch-size", "256",
            "--hidden", "32", "--latent-dim", "4", "--likelihood", "gaussian", "--no-compile", "--no-progress",
            "--no-report", "--threads", "1", "--out", str(tmp_path / name), *extra]
    out = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=600,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


MB = 1 << 20
CAP_EXTRA = 150 * MB  # memory the data may add over a tiny in-memory run: the cap


@pytest.mark.slow
def test_training_over_a_file_larger_than_the_memory_cap_stays_under_it(tmp_path):
    """A 768 MB .npy, 5x the cap of 150 MB above the baseline, is streamed through one epoch.

    Measured: VmHWM, the kernel's peak of the whole RSS (anonymous + file-backed + shared), which is
    the strict figure: rows are read with positioned reads, so no page of the file is ever mapped into
    the process (RssFile stays at the libraries' pages) and nothing reclaimable hides in the peak.
    The anonymous peak (sampled) is recorded too. The baseline is the same command on a tiny
    in-memory file: torch alone takes ~400 MB here, which no data set can go below."""
    n, d = 196_608, 1024  # 4 KiB rows, 768 MiB
    write_npy(tmp_path / "big.npy", n, d)
    write_npy(tmp_path / "small.npy", 3000, d)
    size = (tmp_path / "big.npy").stat().st_size
    base = run_child(tmp_path, "base", tmp_path / "small.npy")
    big = run_child(tmp_path, "big", tmp_path / "big.npy", "--no-in-memory")
    n_train, n_val = n - 2 * round(n * 0.1), round(n * 0.1)
    assert big["served"][str(n_train)] == n_train  # the epoch read every training row once
    assert big["served"][str(n_val)] >= n_val  # and validation every validation row
    extra = big["VmHWM"] - base["VmHWM"]
    figures = {"file_MB": size / MB, "cap_MB": (base["VmHWM"] + CAP_EXTRA) / MB, "base_VmHWM_MB": base["VmHWM"] / MB,
               "stream_VmHWM_MB": big["VmHWM"] / MB, "extra_MB": extra / MB,
               "stream_peak_RssAnon_MB": big["peak_RssAnon"] / MB, "base_peak_RssAnon_MB": base["peak_RssAnon"] / MB,
               "stream_peak_RssFile_MB": big["peak_RssFile"] / MB, "base_peak_RssFile_MB": base["peak_RssFile"] / MB}
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}))
    assert big["VmHWM"] < base["VmHWM"] + CAP_EXTRA
    assert extra < size / 3
    assert big["VmHWM"] < size  # the whole process, torch included, peaked below the file's size
    assert big["peak_RssFile"] < base["peak_RssFile"] + 32 * MB  # no file pages held in the process
