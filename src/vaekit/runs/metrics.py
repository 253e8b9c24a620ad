"""Metrics log: one JSON object per line in RUN_DIR/metrics.jsonl (optionally TensorBoard too)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from vaekit.errors import VaekitError


def _clean(v: Any) -> Any:
    # JSON has no NaN/inf: write them as strings so the log stays parseable by any reader.
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def summary_writer_class() -> type:
    """TensorBoard's SummaryWriter, or a clear error when the optional package is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise VaekitError("--tensorboard needs the tensorboard package (pip install tensorboard)") from None
    return SummaryWriter


class MetricsLog:
    def __init__(self, path: Path, tensorboard_dir: Path | None = None) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a")  # noqa: SIM115 - closed in close()
        self.tb = None
        if tensorboard_dir is not None:
            self.tb = summary_writer_class()(str(tensorboard_dir))

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")
        self.file.flush()
        if self.tb is not None:
            step = record.get("step", 0)
            for k, v in record.items():
                if isinstance(v, int | float) and k not in ("step", "epoch"):
                    self.tb.add_scalar(f"{record.get('kind', 'metric')}/{k}", v, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


class NullLog:
    """The log of ranks other than 0 in a distributed run: they write nothing."""

    def write(self, record: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file (an empty list when it does not exist)."""
    if not path.exists():
        return []
    records = []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:  # a line cut short by a kill mid-write: the resumed run writes it again
                break
            raise VaekitError(f"metrics log {path}: line {i + 1} is not JSON") from None
    return records


def truncate_metrics(path: Path, step: int) -> None:
    """Keep only records up to `step`: a resumed run re-logs what came after its checkpoint."""
    kept = [r for r in read_metrics(path) if r.get("step", 0) <= step]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
