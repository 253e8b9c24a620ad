"""Judges: classifiers that owe nothing to the models they judge, trained on real data with known labels and
then asked what a generated or converted item shows (the protocol of the conditional and disentangled
generative models' papers: a class-conditional sample counts as its class when a classifier of real data
says so; Li & Mandt 2018 judge swapped videos the same way). Each kind turns its items into a fixed feature
vector; the classifier on top is the same for all: multinomial logistic regression on standardised features.

`fit_softmax_regression` minimises the mean cross-entropy + (l2 / 2) ||W||² by full-batch L-BFGS from W = 0 in
float64: a convex problem, no random draw, so the same data gives the same judge. `LinearJudge` holds the
standardisation and the weights, and saves them as JSON-able numbers (never pickle).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from vaekit.errors import ConfigError, DataError


def fit_softmax_regression(x: torch.Tensor, labels: torch.Tensor, n_classes: int, l2: float,
                           iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """W (D, C), b (C,) minimising mean cross-entropy + (l2 / 2) ||W||² on features x (N, D), by full-batch
    L-BFGS (strong Wolfe line search) from zero for `iters` iterations: deterministic, no random start."""
    w = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    x = x.double()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=iters, max_eval=math.ceil(iters * 1.25), history_size=20,
                            tolerance_grad=1e-9, tolerance_change=1e-12, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w + b, labels) + 0.5 * l2 * w.square().sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def check_labels(labels: Any, n_items: int, n_classes: int, what: str = "item") -> torch.Tensor:
    """Integer classes (n_items,) in 0..n_classes-1 as int64, else a DataError / ConfigError saying why."""
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.dtype.is_floating_point or len(labels) != n_items:
        raise DataError(f"a judge needs one integer class per {what}: {n_items} {what}s, labels of shape "
                        f"{tuple(labels.shape)} and type {labels.dtype}")
    if n_items == 0:
        raise DataError(f"a judge needs training {what}s; none were given")
    if n_classes < 2 or int(labels.min()) < 0 or int(labels.max()) >= n_classes:
        raise ConfigError(f"a judge needs n_classes >= 2 and labels in 0..n_classes-1; got n_classes={n_classes}, "
                          f"labels in {int(labels.min())}..{int(labels.max())}")
    return labels.long()


class LinearJudge:
    """Softmax regression on standardised features: `fit(x, labels, n_classes)`, `logits(x)`, `predict(x)`,
    `accuracy(x, labels)`; `to_dict` / `from_dict` save and restore it. x: (N, D) features."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.mean, self.std = mean.double(), std.double()        # (D,), (D,)
        self.weight, self.bias = weight.double(), bias.double()  # (D, C), (C,)

    @property
    def n_classes(self) -> int:
        return len(self.bias)

    @classmethod
    def fit(cls, x: torch.Tensor, labels: Any, n_classes: int, *, l2: float = 1e-3, iters: int = 300) -> LinearJudge:
        """Train on features (N, D) and classes (N,). Classes without a training item keep zero weights."""
        labels = check_labels(labels, len(x), n_classes)
        if l2 < 0 or iters < 1:
            raise ConfigError(f"a judge needs l2 >= 0 and iters >= 1, got l2={l2}, iters={iters}")
        x = x.double()
        mean, std = x.mean(0), x.std(0, correction=0)
        std = torch.where(std > 1e-12, std, torch.ones_like(std))  # a constant feature stays 0
        weight, bias = fit_softmax_regression((x - mean) / std, labels, n_classes, l2, iters)
        return cls(mean, std, weight, bias)

    @torch.no_grad()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) class scores of features (N, D)."""
        return ((x.double() - self.mean) / self.std) @ self.weight + self.bias

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(N,) the most likely class of each item."""
        return self.logits(x).argmax(-1)

    def accuracy(self, x: torch.Tensor, labels: Any) -> float:
        """The share (in [0, 1]) of items classified as their label."""
        labels = torch.as_tensor(labels)
        if len(x) != len(labels):
            raise DataError(f"{len(x)} items but {len(labels)} labels")
        if len(labels) == 0:
            raise DataError("accuracy of no items: give at least one")
        return float((self.predict(x) == labels).double().mean())

    def to_dict(self) -> dict[str, Any]:
        """The judge as JSON-able numbers (float64 values survive JSON exactly)."""
        return {k: getattr(self, k).tolist() for k in ("mean", "std", "weight", "bias")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LinearJudge:
        """The judge `to_dict` wrote; anything else raises DataError saying what is wrong."""
        try:
            t = {k: torch.tensor(d[k], dtype=torch.float64) for k in ("mean", "std", "weight", "bias")}
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"a saved judge with a missing or malformed field: {e}") from None
        size = t["mean"].shape
        if (t["std"].shape != size or t["weight"].dim() != 2 or t["weight"].shape[:1] != size
                or t["bias"].shape != t["weight"].shape[1:]):
            raise DataError(f"a saved judge's arrays do not fit together: mean {tuple(size)}, weight "
                            f"{tuple(t['weight'].shape)}, bias {tuple(t['bias'].shape)}")
        return cls(t["mean"], t["std"], t["weight"], t["bias"])
