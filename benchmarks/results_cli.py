"""What the results benchmarks (sounds.py, videos.py) share: their output options, the smoke settings, and the
end of a run (the JSON figures, the command that made them, the page's section)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from docsection import write_section


def train_settings(args: argparse.Namespace) -> dict:
    """The [train] section every model of a results benchmark shares: the budget, the seed, no pictures."""
    return {"epochs": args.epochs, "max_minutes": args.max_minutes, "seed": args.seed, "progress": False,
            "report": False, "compile": not args.smoke}


def likelihood(run: Any, test: Any, args: argparse.Namespace, unit: str) -> dict:
    """Test log p(x) (nats per item and in the kind's `unit`, e.g. "nats_per_frame"), ELBO, KL and active units
    of one model, at k = --k or the kind's eval_k."""
    from vaekit.evaluation import evaluate
    from vaekit.kinds import kind_of

    k = args.k or kind_of(run.config.data.dataset).eval_k
    start = time.perf_counter()
    res = evaluate(run.model, test, k=k, progress=False, seed=args.seed, compile=not args.smoke)
    epochs = max((r.get("epoch", 0) for r in run.metrics if r.get("kind") == "epoch"), default=0)
    return {"log_likelihood": res["log_likelihood"], unit: res[unit], "elbo": res["elbo"],
            f"elbo_{unit}": res[f"elbo_{unit}"], "kl": sum(res["kl_per_dim"]), "active_units": res["active_units"],
            "latent_dim": res["latent_dim"], "k": k, "n": res["n"], "epochs": epochs,
            "eval_minutes": (time.perf_counter() - start) / 60}


def add_output_args(p: argparse.ArgumentParser, doc: str, smoke: str) -> None:
    """--seed, --runs, --reuse, --json, --smoke (`smoke` says what it runs), --write and --doc (default `doc`)."""
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=None, help="a new folder for the run folders (default: a "
                   "temporary folder, removed at the end)")
    p.add_argument("--reuse", action="store_true", help="load the finished runs already in --runs instead of "
                   "training them again")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--smoke", action="store_true", help=smoke)
    p.add_argument("--write", action="store_true", help="write the section of --doc")
    p.add_argument("--doc", type=Path, default=None, help=f"the page --write updates (default: {doc}; --smoke "
                   "writes only to a --doc given)")


def parse_with_smoke(p: argparse.ArgumentParser, argv: list[str] | None, smoke: dict, doc: str) -> argparse.Namespace:
    """The arguments, with `smoke`'s settings under --smoke, whose figures never go to the default page."""
    args = p.parse_args(argv)
    if args.smoke:
        for name, value in smoke.items():
            setattr(args, name, value)
        if args.write and args.doc is None:
            p.error(f"--smoke --write needs an explicit --doc: smoke figures never go to {doc}")
    return args


def figure_args(argv: list[str]) -> list[str]:
    """The arguments that shape the figures: without --runs, --json (where things are kept) and --reuse (runs
    trained earlier by the same command), so that the page's command reproduces its figures anywhere."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in ("--runs", "--json"):
            skip = True
        elif a != "--reuse" and not a.startswith(("--runs=", "--json=")):
            out.append(a)
    return out


def run_and_write(args: argparse.Namespace, argv: list[str] | None, run_all: Callable[..., dict],
                  section: Callable[..., str], script: str, data_env: bool, name: str, doc: Path) -> dict:
    """Run every model (`run_all(args, root)`), write the JSON figures (--json), print the page's section and
    write it (--write) under `name`; the section's command is `script`'s with the arguments given."""
    with tempfile.TemporaryDirectory() as tmp:
        results = run_all(args, args.runs or Path(tmp))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str) + "\n")
    env = "VAEKIT_DATA=../shared/data " if data_env else ""
    command = f"{env}.venv/bin/python benchmarks/{script} " + " ".join(figure_args(sys.argv[1:] if argv is None
                                                                                  else argv))
    text = section(results, args, command)
    print(text)
    if args.write:
        write_section(name, text, args.doc or doc)
    return results
