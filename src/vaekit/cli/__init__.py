"""The `vaekit` command: a thin layer that parses, calls plain functions and prints.

One module per group of commands, each with a `register(subparsers)`: `train`, `model` (evaluate,
sample, reconstruct, encode), `pictures` (interpolate, traverse, manifold, scatter, curves, report,
convert) and `explore`. Training flags are generated from the config dataclasses: each field's `help`
metadata is its --help text, so the docs and the CLI cannot drift apart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from vaekit.cli import explore, model, pictures, train
from vaekit.cli.common import config_from_args
from vaekit.errors import VaekitError

__all__ = ["build_parser", "config_from_args", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaekit", description="Variational autoencoders: train, evaluate, "
                                     "sample, reconstruct, encode.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (train, model, pictures, explore):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except VaekitError as e:
        print(f"vaekit: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vaekit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

