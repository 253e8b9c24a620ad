"""torch.compile with a fallback: a speed-up where it works, never a failure where it does not."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch


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
