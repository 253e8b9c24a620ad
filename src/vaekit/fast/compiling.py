"""torch.compile with a fallback: a speed-up where it works, never a failure where it does not."""

from __future__ import annotations

import functools
import importlib.util
import logging
import warnings
from collections.abc import Callable
from typing import Any

import torch

log = logging.getLogger("vaekit.fast")


class CompiledOrEager:
    """Call `fn` through torch.compile (dynamic=False: one graph per input shape). Compilation happens
    at the first call; if it fails there (no C++ compiler, an unsupported platform or operator), warn
    once and call `fn` eagerly from then on, or `eager`: a function that gives the same results in a way
    that runs faster uncompiled."""

    def __init__(self, fn: Callable[..., Any], enabled: bool = True,
                 eager: Callable[..., Any] | None = None, options: dict[str, Any] | None = None) -> None:
        self.eager = fn if eager is None else eager
        self.fn: Callable[..., Any] | None = (torch.compile(fn, dynamic=False, options=options)
                                              if enabled else None)

    def __call__(self, *args: Any) -> Any:
        if self.fn is not None:
            try:
                return self.fn(*args)
            except Exception as e:  # torch._dynamo / inductor errors share no public base class
                warnings.warn(f"torch.compile failed ({type(e).__name__}: {e}); running eagerly", stacklevel=2)
                self.fn = None
        return self.eager(*args)


def guard_filter_available() -> bool:
    """torch.compile's `guard_filter_fn` option, which came with these helpers (torch >= 2.8)."""
    return hasattr(torch.compiler, "skip_guard_on_all_nn_modules_unsafe")


def graph_passes_available() -> bool:
    """inductor's custom post-grad passes (a private API: torch._inductor.custom_graph_pass)."""
    try:
        return importlib.util.find_spec("torch._inductor.custom_graph_pass") is not None
    except ImportError:
        return False


@functools.cache
def sampling_options() -> dict[str, Any]:
    """torch.compile options for a graph that draws its own ε (the evaluation's log-weights, the
    training loop's plain path):
    - fallback_random: ε by torch's vectorised randn, in the eager code's order, rather than by
      inductor's per-element Philox. A compiled graph then draws what the eager code does (tested).
    - the bias added in the kernel that reads each float32 product (`graph_passes.UnfuseBiasAddmm`),
      where this torch has inductor's custom passes.
    One dict for the process: torch.compile compares options by value, and a new pass object would
    not compare equal, so every `evaluate` (each epoch's, with --eval-k) would compile the graph again."""
    options: dict[str, Any] = {"fallback_random": True}
    if graph_passes_available():
        from vaekit.fast.graph_passes import GraphPasses, UnfuseBiasAddmm

        options["post_grad_custom_post_pass"] = GraphPasses(UnfuseBiasAddmm())
    else:
        log.info("this torch has no inductor custom graph passes: the evaluation compiles without them")
    return options
