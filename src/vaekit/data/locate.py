"""Where a named corpus lives: a folder a user gives (--data-dir), or its own folder under $VAEKIT_DATA."""

from __future__ import annotations

import os
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
