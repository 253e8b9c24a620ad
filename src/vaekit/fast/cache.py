"""The compiled training step's cache: compilation paid once per machine, not once per run.

Two things are kept in the user cache ($VAEKIT_COMPILE_CACHE, else $XDG_CACHE_HOME/vaekit/compiled, else
~/.cache/vaekit/compiled; `VAEKIT_COMPILE_CACHE=off` keeps nothing):
- `inductor/`: torch inductor's own on-disk caches (FX graphs and the C++ kernels and wrappers they were
  built into), which torch keys and checks itself. vaekit points `TORCHINDUCTOR_CACHE_DIR` there unless
  the user has set it. A warm entry turns the ~15-25 s first compilation of the reference model into ~5 s
  (docs/benchmarks.md). torch's portable "mega-cache" (`torch.compiler.save_cache_artifacts`) carries
  the FX graphs but not the compiled C++ wrapper of a `cpp_wrapper` graph, which is most of the time.
- `records/<key>.json`: what compiling this graph cost on this machine and how much faster its steps ran
  than eager ones, for `vaekit.fast.auto` to decide the next run with measured numbers. The key names
  everything that shapes the graph (`graph_key`). An entry that is unreadable, not this key's, or holds
  numbers that cannot be timings is ignored with one log line and rewritten after the next measurement.
Records are JSON, never pickled, and written atomically (a temporary file renamed over the entry).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import platform
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger("vaekit.fast")

ENV = "VAEKIT_COMPILE_CACHE"
OFF = ("off", "0", "none", "false")
RECORD_VERSION = 1
# the train config fields that change the traced graph (lr, schedules and beta are tensor inputs or live outside)
GRAPH_TRAIN_FIELDS = ("batch_size", "objective", "iwae_k", "kl", "samples", "free_bits", "grad_clip", "precision")


def cache_root() -> Path | None:
    """The compile cache folder, or None when $VAEKIT_COMPILE_CACHE turns it off."""
    given = os.environ.get(ENV, "").strip()
    if given.lower() in OFF:
        return None
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vaekit" / "compiled"


def use_for_inductor(root: Path | None) -> None:
    """Point inductor's on-disk caches into `root` (before the first compilation reads them), unless
    the user chose a folder with TORCHINDUCTOR_CACHE_DIR."""
    if root is not None and "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(root / "inductor")


def cpu_flags() -> str:
    """The CPU's instruction-set flags (generated kernels use them), as a digest; '' where /proc has none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    return hashlib.sha256(" ".join(sorted(line.split(":", 1)[-1].split())).encode()).hexdigest()[:16]


def graph_key(cfg: Any, event_shape: tuple[int, ...], dtype: torch.dtype, drawn: bool, device: torch.device
              ) -> dict[str, Any]:
    """Everything that shapes the compiled step's graph and its speed: torch and Python, the machine's CPU,
    the model and objective config, the batch's shape and dtype and whether it is drawn in the graph."""
    return {"version": RECORD_VERSION, "torch": torch.__version__, "python": platform.python_version(),
            "platform": sys.platform, "machine": platform.machine(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_flags": cpu_flags(),
            "device": device.type, "model": dataclasses.asdict(cfg.model),
            "train": {name: getattr(cfg.train, name) for name in GRAPH_TRAIN_FIELDS},
            "binarize": cfg.data.binarize, "event_shape": list(event_shape), "dtype": str(dtype), "drawn": drawn}


def key_name(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


@dataclass
class Record:
    """Measured on this machine for one graph key: seconds of the last compilation, how many compilations
    were measured, and the median seconds of an eager and of a compiled step (None: not measured yet)."""
    compile_seconds: float
    compiles: int = 1
    eager_step: float | None = None
    compiled_step: float | None = None

    def check(self) -> None:
        timings = [self.compile_seconds] + [v for v in (self.eager_step, self.compiled_step) if v is not None]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
                   for v in timings):
            raise ValueError("its timings are not positive numbers")
        if not isinstance(self.compiles, int) or self.compiles < 1:
            raise ValueError(f"compiles={self.compiles!r}")


def record_path(root: Path, key: dict[str, Any]) -> Path:
    return root / "records" / f"{key_name(key)}.json"


def read_record(root: Path | None, key: dict[str, Any]) -> Record | None:
    """This key's record, or None when there is none, and also, with one log line, when the entry is
    unreadable, truncated, another key's or holds impossible numbers (it is rewritten later)."""
    if root is None:
        return None
    path = record_path(root, key)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("key") != key:
            raise ValueError("it was written for another graph")
        fields = {f.name for f in dataclasses.fields(Record)}
        record = Record(**{k: v for k, v in data.items() if k in fields})
        record.check()
    except (OSError, ValueError, TypeError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        log.warning("compile cache entry %s is not usable (%s): measuring again", path, e)
        return None
    return record


def write_record(root: Path | None, key: dict[str, Any], record: Record) -> None:
    """Write atomically: a temporary file in the same folder, renamed over the entry once complete. A
    cache that cannot be written costs the measurement next time, nothing else."""
    if root is None:
        return
    path = record_path(root, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, **dataclasses.asdict(record)}, f, indent=1, sort_keys=True)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError as e:
        log.warning("cannot write the compile cache in %s: %s", path.parent, e.strerror or e)
