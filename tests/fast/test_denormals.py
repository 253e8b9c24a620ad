"""Subnormal floats flushed to zero on every thread torch computes with, and put back afterwards. Floats
are compared by their bits: a float comparison on a flushing thread takes a subnormal for 0."""

from __future__ import annotations

import pytest
import torch

import vaekit
from tests.conftest import tiny_config
from vaekit.fast import denormals
from vaekit.training.loop import Trainer

N = 1 << 18  # enough elements that torch splits an elementwise op across both threads


@pytest.fixture
def two_threads():
    """Two intra-op threads with a running pool (the case torch.set_flush_denormal alone does not reach)."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    torch.ones(N).mul(2.0)  # starts the OpenMP workers
    assert not denormals.flushing(), "this process flushes subnormals already: the tests would prove nothing"
    yield
    denormals.set_flush_denormal(False)
    torch.set_num_threads(before)


def bits(x: torch.Tensor) -> torch.Tensor:
    return x.view(torch.int32)


def kept() -> float:
    """The fraction of N subnormal products x * 1 that stay subnormal (0 where their thread flushes)."""
    products = denormals.subnormals(N) * 1.0
    return (bits(products) == bits(denormals.subnormals(1))).double().mean().item()


def test_every_thread_flushes_inside_and_none_after(two_threads):
    assert kept() == 1.0  # IEEE gradual underflow to begin with
    with denormals.flush_denormals() as flushed:
        assert flushed
        assert kept() == 0.0  # all 2^18 products are 0, on both threads
        m = torch.full((N,), 1e-30)
        for _ in range(9):  # Adam's first moment of a weight whose gradient stays 0: 1e-30 * 0.1^9 is subnormal
            m.mul_(0.1)
        assert not bool(bits(m).any())
    assert not denormals.flushing()
    assert kept() == 1.0
    m = torch.full((N,), 1e-30)
    for _ in range(9):
        m.mul_(0.1)
    assert bool(bits(m).all())  # 1e-39, kept as a subnormal


def test_torch_flag_alone_misses_the_running_workers(two_threads):
    # why vaekit.fast.denormals exists: torch sets the MXCSR bits of the calling thread only
    torch.set_flush_denormal(True)
    assert 0.0 < kept() < 1.0  # one thread flushes, the other does not
    assert not denormals.flushing()


def test_nested_blocks_leave_an_outer_flush_on(two_threads):
    with denormals.flush_denormals():
        with denormals.flush_denormals() as inner:
            assert inner
        assert denormals.flushing()  # the inner block found it on and left it on
    assert not denormals.flushing()


def test_without_an_openmp_runtime_it_says_so(two_threads, monkeypatch):
    monkeypatch.setattr(denormals, "_gomp_parallel", lambda: None)
    assert denormals.set_flush_denormal(True) is False  # the calling thread only: not every thread flushes
    assert 0.0 < kept() < 1.0
    denormals.set_flush_denormal(False)
    with pytest.warns(UserWarning, match="could not be flushed"), denormals.flush_denormals() as flushed:
        assert not flushed


@pytest.mark.parametrize("flush", [True, False])
def test_training_flushes_while_it_runs_as_configured(two_threads, monkeypatch, tmp_path, flush):
    seen = []
    run_epoch = Trainer.run_epoch

    def spy(self, *args):
        seen.append(denormals.flushing())
        return run_epoch(self, *args)

    monkeypatch.setattr(Trainer, "run_epoch", spy)
    cfg = tiny_config(epochs=2)
    cfg.train.flush_denormals = flush
    vaekit.train(cfg, out=tmp_path / "run")
    assert seen == [flush, flush]
    assert not denormals.flushing()  # put back when training ends
