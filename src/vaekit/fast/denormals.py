"""Flush subnormal floats to zero on the CPU, on every thread torch computes with.

Why: a subnormal float (0 < |x| < 1.2e-38 in float32) takes a slow microcode path on x86 CPUs, tens to
a hundred times the cost of a normal operation. Training makes them: Adam's first moment of a weight whose
gradient has become exactly zero (the weights of a dead unit or an unused latent, the input weights of an
always-black border pixel) decays by β1 = 0.9 a step and spends ~150 steps in the subnormal range before it
underflows to 0: a long MNIST run slowed to less than half its speed with them in its Adam state
(docs/benchmarks.md). Flush-to-zero (FTZ) and denormals-are-zero (DAZ) drop them.

How: FTZ and DAZ are bits of each thread's MXCSR register. `torch.set_flush_denormal` sets them on the
calling thread only, so torch's OpenMP workers keep IEEE gradual underflow (a worker created later inherits
the bits; one already running does not). `set_flush_denormal` here also runs it inside one OpenMP parallel
region of the runtime torch loaded (`GOMP_parallel`, which libgomp, LLVM's libomp and Intel's libiomp5 all
export), so every thread of the team sets its own bits, and then checks the result with a parallel op.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

_OPENMP_NAMES = ("libgomp", "libomp", "libiomp")
# ctypes keeps the GIL released while GOMP_parallel runs; each thread of the team takes it for the callback
_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
# enough subnormals that torch splits the check across every thread (at::parallel_for's grain is 32,768)
_CHECK_PER_THREAD = 1 << 16


@functools.cache
def _gomp_parallel() -> ctypes._CFuncPtr | None:
    """GOMP_parallel of the OpenMP runtime loaded in this process, or None (no OpenMP, not Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.is_file():
        return None
    mapped = {line.split()[-1] for line in maps.read_text().splitlines() if "/" in line}  # the files' paths
    for path in sorted(mapped):
        if Path(path).name.startswith(_OPENMP_NAMES):
            try:
                return ctypes.CDLL(path).GOMP_parallel
            except (OSError, AttributeError):
                continue
    return None


def subnormals(n: int) -> torch.Tensor:
    """n float32 subnormals, 2^20 * 2^-149 = 1.5e-39 each, made from their bits: a float made by a thread
    that flushes would be 0 already."""
    return torch.full((n,), 1 << 20, dtype=torch.int32).view(torch.float32)


def flushing() -> bool:
    """Do all of torch's intra-op threads flush subnormals to zero now? One parallel multiply of subnormals
    by 1: every product is 0 only where the thread that computed it flushes. The products are read as
    integers, since a float comparison on a flushing thread would take a subnormal for 0."""
    products = subnormals(_CHECK_PER_THREAD * torch.get_num_threads()) * 1.0
    return not bool(products.view(torch.int32).any())


def set_flush_denormal(on: bool) -> bool:
    """Set FTZ/DAZ to `on` on the calling thread and on every OpenMP thread of torch's pool; returns
    whether every thread now flushes (on=True) or none does (on=False)."""
    if not torch.set_flush_denormal(on):  # the CPU has no such mode (not x86 with SSE3, nor ARM)
        return False
    parallel = _gomp_parallel()
    if parallel is not None:
        callback = _CALLBACK(lambda _: torch.set_flush_denormal(on))
        parallel(callback, None, ctypes.c_uint(torch.get_num_threads()), ctypes.c_uint(0))
    return flushing() == on


@contextlib.contextmanager
def flush_denormals(enabled: bool = True) -> Iterator[bool]:
    """Flush subnormals to zero on every thread inside the block, then turn that off again on every thread:
    a no-op when `enabled` is False or every thread flushes already. Yields whether they are flushed."""
    already = flushing()
    if not enabled or already:
        yield already
        return
    done = set_flush_denormal(True)
    if not done:
        warnings.warn("subnormal floats could not be flushed to zero on every CPU thread here (no OpenMP "
                      "runtime found, or a CPU without the mode); a long training run may slow down", stacklevel=3)
    try:
        yield done
    finally:
        set_flush_denormal(False)
