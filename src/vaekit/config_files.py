"""Config files: JSON, TOML or YAML read into the nested dicts `Config.from_dict` validates, and a run's
config written back as JSON. Never pickled."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from vaekit.config import Config, check_sections
from vaekit.errors import ConfigError


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a JSON, TOML or YAML config file into nested dicts (validation happens in Config.from_dict)."""
    p = Path(path)
    fmt = p.suffix.lower()
    if fmt not in (".json", ".toml", ".yaml", ".yml"):
        raise ConfigError(f"config file {p}: unknown format {p.suffix!r}; use .json, .toml or .yaml")
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read config file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {p} is not UTF-8 text: {e}") from None
    parse, errors = _parser(fmt, p)
    try:
        data = parse(text)
    except RecursionError:  # json and yaml recurse per nesting level: "[[[[..." exhausts the stack
        raise ConfigError(f"config file {p} is nested too deeply to be a config") from None
    except errors as e:
        raise ConfigError(f"config file {p} is not valid {fmt[1:].upper()}: {e}") from None
    # Checked here too: the CLI merges the file's known sections with its flags, so an unknown section or a
    # section that is not a mapping would otherwise be dropped silently or fail while merging.
    check_sections(data, f"config file {p}")
    for name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"config file {p}: [{name}]: expected a mapping, got {type(values).__name__}")
    return data


def _parser(fmt: str, p: Path) -> tuple[Any, tuple[type[Exception], ...]]:
    """The text parser of a config format and the exceptions it raises on malformed text."""
    if fmt == ".json":
        return json.loads, (ValueError,)  # JSONDecodeError; ValueError also for ints beyond 4300 digits
    if fmt == ".toml":
        return tomllib.loads, (ValueError,)  # TOMLDecodeError is a ValueError
    try:
        import yaml
    except ImportError:
        raise ConfigError(f"{p}: YAML configs need PyYAML (pip install PyYAML)") from None

    def load_yaml(text: str) -> Any:
        data = yaml.safe_load(text)
        return {} if data is None else data  # an empty file is an empty config; `false` is not

    # YAMLError for syntax; ValueError/TypeError/OverflowError from its scalar constructors (e.g. a bad date)
    return load_yaml, (yaml.YAMLError, ValueError, TypeError, OverflowError)


def load_config(path: str | Path) -> Config:
    return Config.from_dict(read_config_file(path), source=str(path))


def save_config(cfg: Config, path: str | Path) -> None:
    Path(path).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
