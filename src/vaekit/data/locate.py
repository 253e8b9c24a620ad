"""Where a named corpus lives: a folder a user gives (--data-dir), or its own folder under $VAEKIT_DATA."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path

from vaekit.errors import DataError


def corpus_folder(name: str, data_dir: str | None, files: list[str]) -> Path:
    """The first of --data-dir, --data-dir/NAME and $VAEKIT_DATA/NAME that holds all of `files`; else an
    error saying where to put them and every place looked in."""
    dirs = [Path(data_dir), Path(data_dir) / name] if data_dir else []
    if os.environ.get("VAEKIT_DATA"):
        dirs.append(Path(os.environ["VAEKIT_DATA"]) / name)
    for d in dirs:
        if all((d / f).is_file() for f in files):
            return d
    where = "\n  ".join(map(str, dirs)) or "(none: VAEKIT_DATA is not set)"
    raise DataError(f"{name} files not found. Put {', '.join(files)} in DIR/{name} and set VAEKIT_DATA=DIR, or "
                    f"give --data-dir; looked in:\n  {where}")


def class_folders(root: Path, wanted: Callable[[Path], bool], what: str
                  ) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """The files under `root` that `wanted` takes, sorted: with class subfolders (those holding such files),
    also each file's label (the subfolder's rank in sorted order) and the class names; else the files of
    root itself, unlabelled. `what` names the folder in errors ("image folder")."""
    try:
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and any(wanted(p) for p in d.iterdir()))
        if classes:
            files, labels = [], []
            for i, c in enumerate(classes):
                found = sorted(p for p in (root / c).iterdir() if wanted(p))
                files += found
                labels += [i] * len(found)
            return files, labels, classes
        return sorted(p for p in root.iterdir() if wanted(p)), None, None
    except OSError as e:  # a subfolder without read permission, a file vanishing while listed
        raise DataError(f"cannot list {what} {root}: {e.strerror or e} ({e.filename})") from None


def labelled_files(root: Path, suffixes: Collection[str], what: str, noun: str
                   ) -> tuple[list[Path], list[int] | None, list[str] | None]:
    """`class_folders` of the files under `root` whose suffix (lower case) is one of `suffixes`, refusing a
    root that is not a folder or holds none: `what` names the folder ("image folder"), `noun` its files."""
    if not root.is_dir():
        raise DataError(f"{what} {root} does not exist or is not a folder")
    files, labels, classes = class_folders(root, lambda p: p.is_file() and p.suffix.lower() in suffixes, what)
    if not files:
        raise DataError(f"{what} {root} has no {noun} ({', '.join(sorted(suffixes))})")
    return files, labels, classes
