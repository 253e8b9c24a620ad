"""What the command modules share: run-folder arguments, config flags, the data a command reads and
how its output is written. Command modules import this, never `vaekit.cli` itself."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.errors import ConfigError

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def run_parser(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand that reads a run folder: RUN_DIR, --which, --device (shared by every such command)."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("run_dir", help="a run folder written by `vaekit train`")
    p.add_argument("--which", default="best", choices=["best", "last"], help="checkpoint (default: best)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    return p


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per config field; defaults are suppressed so only given flags override."""
    for section, typ in SECTIONS.items():
        group = parser.add_argument_group(f"{section} options")
        for f in dataclasses.fields(typ):
            flag = "--" + f.metadata.get("flag", f.name.replace("_", "-"))
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            kw: dict[str, Any] = {"dest": f"{section}.{f.name}", "default": argparse.SUPPRESS,
                                  "help": f"{f.metadata['help']} (default: {default})"}
            ann = str(f.type).replace(" ", "")
            if f.metadata.get("switch"):
                _add_switch(group, flag, kw)
                continue
            if ann == "bool":
                kw["action"] = argparse.BooleanOptionalAction
            elif ann == "list[int]":
                kw.update(type=_int_list, action="append", metavar="N[,N...]")
            else:
                kw["type"] = {"int": int, "float": float}.get(ann.replace("|None", ""), str)
                kw["metavar"] = f.name.upper()
            group.add_argument(flag, **kw)


def _add_switch(group: Any, flag: str, kw: dict[str, Any]) -> None:
    """`--flag [auto|on|off]` (alone: on) and `--no-flag` (off), for a config field marked `switch`."""
    group.add_argument(flag, nargs="?", const="on", choices=("auto", "on", "off"), metavar="{auto,on,off}", **kw)
    group.add_argument("--no-" + flag[2:], dest=kw["dest"], action="store_const", const="off",
                       default=argparse.SUPPRESS, help=f"the same as {flag} off")


def config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Config:
    """Merge: dataclass defaults < base (config file or run folder) < flags given on the line."""
    merged: dict[str, dict[str, Any]] = {s: dict((base or {}).get(s, {})) for s in SECTIONS}
    for dest, value in vars(args).items():
        if "." in dest:
            section, name = dest.split(".", 1)
            if isinstance(value, list):  # --hidden 400 --hidden 200, or --hidden 400,200
                value = [v for part in value for v in part]
            merged[section][name] = value
    from vaekit.kinds import with_kind_defaults

    cfg = Config.from_dict(merged, source="command line")
    try:
        return with_kind_defaults(cfg, {f"{section}.{name}" for section, given in merged.items() for name in given})
    except ConfigError as e:  # an unknown --data, or kind defaults that clash with the flags given
        raise ConfigError(f"command line: {e}") from None


def eval_data(run: Any, split: str, path: str | None) -> Any:
    from vaekit.kinds import load_path, load_split

    if path:
        return load_path(path, run.config.data, stats=run.data_stats)
    if split not in ("train", "val", "test"):
        raise ConfigError(f"--split {split!r} must be train, val or test")
    return load_split(run.config.data, split, stats=run.data_stats)


def write_items(run: Any, items: Any, out: Path, per_row: int | None = None) -> None:
    """Items (N, *event) as the run's kind of data shows them to a person (a PNG grid for images) when
    `out` asks for a picture, and always their raw values as .npy beside it."""
    import numpy as np

    from vaekit.kinds import kind_of

    out.parent.mkdir(parents=True, exist_ok=True)
    np.save(out.with_suffix(".npy"), items.detach().cpu().numpy())
    kind = kind_of(run.config.data.dataset)
    shown = out.suffix != ".npy" and kind.shows(run.event_shape)
    written = kind.write_grid(items, out, per_row, run.data_stats) if shown else []
    print(f"wrote {files_written([*written, out.with_suffix('.npy')])}")


def files_written(paths: list[Path], most: int = 3) -> str:
    """The files a command wrote, for its last line: each one, except that more than `most` files of one
    folder and suffix (a sound grid's WAVs) read as the first … the last (N .wav files)."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for p in paths:
        groups.setdefault((p.parent, p.suffix), []).append(p)
    parts = []
    for (_, suffix), group in groups.items():
        if len(group) > most:
            parts.append(f"{group[0]} … {group[-1]} ({len(group)} {suffix} files)")
        else:
            parts += [str(p) for p in group]
    return " and ".join(parts)


def labels_for(run: Any, data: Any, label: int | None, device: str) -> Any:
    """The labels a class-conditional model reads: --label for every item, else the data's own; None for
    an unconditional model."""
    import torch

    from vaekit.viz.convert import check_label

    k = getattr(run.model, "n_classes", 0)
    if not k:
        return None
    if label is not None:
        check_label(label, k)
        return torch.full((len(data.x),), label, device=device)
    if data.labels is None or torch.as_tensor(data.labels).dim() != 1:
        raise ConfigError("this model is class-conditional: give the inputs' class with --label")
    return torch.as_tensor(data.labels).to(device)
