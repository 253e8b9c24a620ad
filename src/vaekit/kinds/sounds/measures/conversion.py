"""Judged accuracy: does a clip sound like the class it was made for? The judge's verdict on made clips,
read beside its verdict on real test clips (the most a made clip can be expected to reach, since the judge
errs on real ones too) and beside chance.

The same numbers serve three questions about a class-conditional sound VAE:
- conversion: a clip encoded with its own class and decoded with another (the target) should be heard as
  the target (transfer accuracy, as Shen et al. 2017 and Hu et al. 2017 measure it for sentences; for voice
  conversion Kameoka et al. 2018, "ACVAE-VC", judge with a speaker classifier the same way);
- samples: p(x | z, y) decoded from z ~ p(z) should be heard as y;
- reconstructions: decoded from q(z | x, y) with the clip's own label, they should keep it.
`judged_accuracy` answers each; `conversion_measures` is its form with the names of conversion.
"""

from __future__ import annotations

from typing import Any

import torch

from vaekit.errors import DataError
from vaekit.kinds.sounds.measures.judge import Judge


def _labels(labels: torch.Tensor, n: int, judge: Judge, what: str) -> torch.Tensor:
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.dtype.is_floating_point or len(labels) != n:
        raise DataError(f"{what}: one integer class per clip expected, got {n} clips and labels of shape "
                        f"{tuple(labels.shape)} and type {labels.dtype}")
    if n == 0:
        raise DataError(f"{what}: no clips to judge")
    if int(labels.min()) < 0 or int(labels.max()) >= judge.n_classes:
        raise DataError(f"{what}: classes must lie in 0..{judge.n_classes - 1} (the judge's), got "
                        f"{int(labels.min())}..{int(labels.max())}")
    return labels


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor, n_classes: int) -> list[float | None]:
    """% of each class's clips predicted as it (None for a class without clips)."""
    out: list[float | None] = []
    for c in range(n_classes):
        hit = predicted[labels == c] == c
        out.append(100.0 * float(hit.double().mean()) if len(hit) else None)
    return out


def judged_accuracy(waves: torch.Tensor, labels: torch.Tensor, judge: Judge, real_waves: torch.Tensor,
                    real_labels: torch.Tensor) -> dict[str, Any]:
    """The judge's accuracy (%) on made clips (N, S) against the classes they were made for (N,), beside
    its accuracy on real clips of known class (e.g. the test split) and chance, 100 / n_classes.

    Returns accuracy, real_accuracy, chance (all %), per_class (% of each intended class, None where no clip
    was made for it), n and n_real."""
    labels = _labels(labels, len(waves), judge, "judged clips")
    real_labels = _labels(real_labels, len(real_waves), judge, "real clips")
    predicted = judge.predict(waves)
    return {
        "accuracy": 100.0 * float((predicted == labels).double().mean()),
        "real_accuracy": 100.0 * judge.accuracy(real_waves, real_labels),
        "chance": 100.0 / judge.n_classes,
        "per_class": per_class_accuracy(predicted, labels, judge.n_classes),
        "n": len(labels),
        "n_real": len(real_labels),
    }


def conversion_measures(converted_waves: torch.Tensor, target_labels: torch.Tensor, judge: Judge,
                        real_test_waves: torch.Tensor, real_test_labels: torch.Tensor) -> dict[str, Any]:
    """Transfer accuracy of converted clips: `judged_accuracy` with the targets as the intended classes,
    its `accuracy` named `target_accuracy` (%)."""
    m = judged_accuracy(converted_waves, target_labels, judge, real_test_waves, real_test_labels)
    m["target_accuracy"] = m.pop("accuracy")
    return m
