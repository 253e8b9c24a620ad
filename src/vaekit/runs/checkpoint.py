"""Checkpoints: weights in safetensors, optimizer state through torch.save / torch.load(weights_only=True),
training state in JSON. Nothing is ever unpickled.

Every file is written atomically (temporary file, fsync, rename), and the JSON state file, written
last, records each file's sha256: it is the commit point of a checkpoint, so a run killed while
saving keeps its previous checkpoint intact, and a corrupted file is detected on load. Before a new
`last` checkpoint is written, the current one (if intact) is kept as `prev` (hard links, no copy), so
that `--resume` falls back to it when `last` turns out truncated or corrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vaekit.errors import CheckpointError
from vaekit.runs.paths import RunPaths


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temporary path beside `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(obj, indent=2) + "\n"))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_weights(path: Path, module: torch.nn.Module) -> str:
    """Save a module's state dict as safetensors; returns the file's sha256."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    atomic_write(path, lambda p: save_file(tensors, str(p)))
    return sha256_file(path)


def load_weights(path: Path, module: torch.nn.Module, sha256: str | None = None) -> None:
    """Load safetensors weights into `module`, checking the digest and every name and shape."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    if sha256 is not None and sha256_file(path) != sha256:
        raise CheckpointError(f"checkpoint file {path} is corrupted: its sha256 differs from the one recorded")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint file {path} is not a readable safetensors file: {e}") from None
    expected = module.state_dict()
    missing, extra = set(expected) - set(tensors), set(tensors) - set(expected)
    if missing or extra:
        raise CheckpointError(f"checkpoint {path} does not fit the model: missing {sorted(missing)}, "
                              f"unexpected {sorted(extra)}")
    for name, t in tensors.items():
        if t.shape != expected[name].shape or t.dtype != expected[name].dtype:
            raise CheckpointError(f"checkpoint {path}: {name} has {tuple(t.shape)} {t.dtype}, the model "
                                  f"expects {tuple(expected[name].shape)} {expected[name].dtype}")
    module.load_state_dict(tensors)


def save_optimizer(path: Path, optimizer: torch.optim.Optimizer) -> str:
    atomic_write(path, lambda p: torch.save(optimizer.state_dict(), p))
    return sha256_file(path)


def load_optimizer(path: Path, optimizer: torch.optim.Optimizer, sha256: str | None = None) -> None:
    if sha256 is not None and (not path.is_file() or sha256_file(path) != sha256):
        raise CheckpointError(f"optimizer state {path} is missing or corrupted (sha256 mismatch)")
    try:
        # weights_only=True: tensors and plain containers only; a pickled payload is refused.
        state = torch.load(path, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(state)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, ValueError, ...
        raise CheckpointError(f"optimizer state {path} cannot be loaded safely: {e}") from None


def read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing: the run folder has no finished checkpoint") from None
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint state {path} is unreadable: {e}") from None
    if not isinstance(state, dict) or "epoch" not in state or "files" not in state:
        raise CheckpointError(f"checkpoint state {path} lacks the keys 'epoch' and 'files'")
    return state


def problems(d: Path, name: str) -> str | None:
    """Why the checkpoint `name` (last / prev) in folder d cannot be used, or None when every file it
    lists exists with the recorded sha256."""
    try:
        state = read_state(d / f"{name}.json")
    except CheckpointError as e:
        return str(e)
    for file, digest in state["files"].items():
        path = d / file
        if not path.is_file():
            return f"checkpoint file {path} is missing"
        if sha256_file(path) != digest:
            return f"checkpoint file {path} is corrupted: its sha256 differs from the one recorded"
    return None


def keep_previous(d: Path) -> None:
    """Keep the intact `last` checkpoint as `prev`: hard-link each file under its prev- name (the next
    save replaces last's files by rename, which leaves the links' contents alone), then commit prev.json."""
    if problems(d, "last") is not None:
        return  # nothing intact to keep: the existing prev (if any) stays
    state = read_state(d / "last.json")
    renamed = {f: "prev" + f.removeprefix("last") for f in state["files"]}
    for old, new in renamed.items():
        tmp = d / f".{new}.link"
        tmp.unlink(missing_ok=True)
        os.link(d / old, tmp)
        os.replace(tmp, d / new)
    state["files"] = {renamed[f]: digest for f, digest in state["files"].items()}
    state["eval_weights"] = renamed.get(state["eval_weights"], state["eval_weights"])
    write_json(d / "prev.json", state)


def resumable_state(d: Path) -> tuple[dict[str, Any], str] | None:
    """The newest intact checkpoint to resume from: (state, "last") or, when last is damaged, (state,
    "prev") with a warning. None when the run has no checkpoint at all (it stopped before its first
    epoch ended); a CheckpointError naming both problems when neither is usable."""
    if not (d / "last.json").exists() and not (d / "prev.json").exists():
        return None
    why_last = problems(d, "last")
    if why_last is None:
        return read_state(d / "last.json"), "last"
    why_prev = problems(d, "prev")
    if why_prev is None:
        warnings.warn(f"{why_last}; resuming from the previous checkpoint {d / 'prev.json'}", stacklevel=2)
        return read_state(d / "prev.json"), "prev"
    raise CheckpointError(f"cannot resume: {why_last}; and the previous checkpoint: {why_prev}")


def save_checkpoint(paths: RunPaths, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    ema: torch.nn.Module | None, state: dict[str, Any], event_shape: tuple[int, ...],
                    best: bool) -> None:
    """Write the `last` checkpoint (weights, EMA weights, optimizer state, then last.json, the commit
    point) after keeping the current one as `prev`; with best, also the evaluation weights as `best`.
    state: the training state (epoch, step, ...), stored in the JSON files as it is."""
    d = paths.checkpoints
    keep_previous(d)  # the current checkpoint stays usable while the new one is written
    files = {"last.safetensors": save_weights(d / "last.safetensors", model),
             "last-optim.pt": save_optimizer(d / "last-optim.pt", optimizer)}
    eval_name = "last.safetensors"
    if ema is not None:
        eval_name = "last-ema.safetensors"
        files[eval_name] = save_weights(d / eval_name, ema)
    meta = {"event_shape": list(event_shape), "eval_weights": eval_name,
            "saved": datetime.now().isoformat(timespec="seconds")}
    if best:
        digest = save_weights(d / "best.safetensors", model if ema is None else ema)
        write_json(d / "best.json", {**state, **meta, "eval_weights": "best.safetensors",
                                     "files": {"best.safetensors": digest}})
    write_json(d / "last.json", {**state, **meta, "files": files})


def load_checkpoint(paths: RunPaths, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    ema: torch.nn.Module | None) -> dict[str, Any] | None:
    """Load the newest intact checkpoint (`last`, or `prev` when last is damaged: `resumable_state`)
    into model, EMA copy and optimizer, and return its training state; None when the run has none."""
    found = resumable_state(paths.checkpoints)
    if found is None:
        return None
    d, (state, name) = paths.checkpoints, found
    files = state["files"]
    load_weights(d / f"{name}.safetensors", model, files.get(f"{name}.safetensors"))
    if ema is not None:
        load_weights(d / f"{name}-ema.safetensors", ema, files.get(f"{name}-ema.safetensors"))
    load_optimizer(d / f"{name}-optim.pt", optimizer, files.get(f"{name}-optim.pt"))
    return state
