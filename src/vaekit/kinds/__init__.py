"""The kinds of data vaekit models, one folder each behind the same small interface (`base.Kind`), and the
registry that finds a data set's kind. Adding a kind: a folder with its data, networks and writers, and
one entry in `KINDS` (docs/kinds.md)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from vaekit.errors import ConfigError, DataError
from vaekit.kinds.arrays import ArrayKind
from vaekit.kinds.base import Kind, Unit
from vaekit.kinds.images import ImageKind
from vaekit.kinds.sounds import SoundKind
from vaekit.kinds.texts import TextKind
from vaekit.kinds.videos import VideoKind

KINDS: tuple[Kind, ...] = (ImageKind(), ArrayKind(), TextKind(), SoundKind(), VideoKind())
APPLIED = "kind_defaults_applied"  # set on a Config once `with_kind_defaults` has filled it


def dataset_names() -> tuple[str, ...]:
    return tuple(name for kind in KINDS for name in kind.datasets)


def kind_of(dataset: str) -> Kind:
    """The kind that loads the data set named `dataset` (--data)."""
    for kind in KINDS:
        if dataset in kind.datasets:
            return kind
    raise ConfigError(f"--data {dataset!r} is not one of {', '.join(dataset_names())}")


def kind_named(name: str) -> Kind:
    """The kind registered under `name` (a data set's `kind`)."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise ConfigError(f"no kind of data is named {name!r}; the kinds are {', '.join(k.name for k in KINDS)}")


def with_kind_defaults(cfg: Any, given: Collection[str] | None = ()) -> Any:
    """The `Config` with the model, data and training fields its data's kind sets otherwise
    (`Kind.model_defaults`: sentences take --model lstm --likelihood categorical; `Kind.data_defaults`: tones
    take --subset 2000; `Kind.train_defaults`: videos take --batch-size 32) where they hold vaekit's defaults;
    changed in place, once: a config it has seen is returned as it is.
    `given`: "section.field" names the user set (flags, a config file), kept even where they equal vaekit's
    default (`--model mlp` on sounds); None: every field was set (a saved run's config), nothing changes."""
    if getattr(cfg, APPLIED, False):
        return cfg
    if given is not None:
        kind = kind_of(cfg.data.dataset)
        kind.fill_defaults(cfg.model, {n.split(".", 1)[1] for n in given if n.startswith("model.")})
        kind.fill_data_defaults(cfg.data, {n.split(".", 1)[1] for n in given if n.startswith("data.")})
        kind.fill_train_defaults(cfg.train, {n.split(".", 1)[1] for n in given if n.startswith("train.")})
    setattr(cfg, APPLIED, True)
    return cfg


def load_split(cfg: Any, split: str, *, stats: dict | None = None) -> Any:
    """The train, val or test split of the data set a `DataConfig` describes."""
    kind = kind_of(cfg.dataset)
    kind.check_data(cfg)
    return kind.load_split(cfg, split, stats)


def load_path(path: str | Path, cfg: Any, *, stats: dict | None = None) -> Any:
    """New inputs for a trained model from a file or folder, read as the run's kind of data reads them."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"input {p} does not exist")
    return kind_of(cfg.dataset).load_path(p, cfg, stats)


__all__ = ["KINDS", "ArrayKind", "ImageKind", "Kind", "SoundKind", "TextKind", "Unit", "VideoKind", "dataset_names",
           "kind_named", "kind_of", "load_path", "load_split", "with_kind_defaults"]
