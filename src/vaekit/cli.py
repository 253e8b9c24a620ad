"""The `vaekit` command: a thin layer that parses, calls plain functions and prints.

Training flags are generated from the config dataclasses: each field's `help` metadata is its
--help text, so the docs and the CLI cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig, read_config_file
from vaekit.errors import ConfigError, VaekitError

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# Modules with a `register(subparsers)` that adds more subcommands (kept out of this file so it stays thin).
COMMAND_MODULES: tuple[str, ...] = ("vaekit.viz.commands", "vaekit.explore.commands")


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
            if ann == "bool":
                kw["action"] = argparse.BooleanOptionalAction
            elif ann == "list[int]":
                kw.update(type=_int_list, action="append", metavar="N[,N...]")
            else:
                kw["type"] = {"int": int, "float": float}.get(ann.replace("|None", ""), str)
                kw["metavar"] = f.name.upper()
            group.add_argument(flag, **kw)


def config_from_args(args: argparse.Namespace, base: dict[str, Any] | None = None) -> Config:
    """Merge: dataclass defaults < base (config file or run folder) < flags given on the line."""
    merged: dict[str, dict[str, Any]] = {s: dict((base or {}).get(s, {})) for s in SECTIONS}
    for dest, value in vars(args).items():
        if "." in dest:
            section, name = dest.split(".", 1)
            if isinstance(value, list):  # --hidden 400 --hidden 200, or --hidden 400,200
                value = [v for part in value for v in part]
            merged[section][name] = value
    return Config.from_dict(merged, source="command line")


def cmd_train(args: argparse.Namespace) -> None:
    from vaekit.run import default_run_dir, read_run_config
    from vaekit.training.loop import train

    if args.resume:
        base = read_run_config(args.resume).to_dict()
    else:
        base = read_config_file(args.config) if args.config else {}
    cfg = config_from_args(args, base)
    out = None if args.resume else (args.out or default_run_dir(cfg))
    run = train(cfg, out=out, resume=args.resume)
    last = next((r for r in reversed(run.metrics) if r.get("kind") == "epoch"), {})
    bpd = f" ({last['val_bits_per_dim']:.4f} bits/dim)" if "val_bits_per_dim" in last else ""  # only where defined
    print(f"trained {cfg.train.epochs} epochs: validation ELBO {last.get('val_elbo', float('nan')):.2f} nats{bpd}")
    print(f"run folder: {run.dir}")
    for name in ("samples.png", "reconstructions.png", "metrics.jsonl", "config.json", "report.html"):
        if (run.dir / name).exists():
            print(f"  {run.dir / name}")


def _eval_data(run: Any, split: str, path: str | None) -> Any:
    from vaekit.data import load_path, load_split

    if path:
        return load_path(path, run.config.data, stats=run.data_stats)
    if split not in ("train", "val", "test"):
        raise ConfigError(f"--split {split!r} must be train, val or test")
    return load_split(run.config.data, split, stats=run.data_stats)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from vaekit.evaluation import evaluate
    from vaekit.run import load_run
    from vaekit.training.checkpoint import write_json

    if args.k < 1:
        raise ConfigError(f"--k {args.k} must be >= 1")
    run = load_run(args.run_dir, args.which, args.device)
    data = _eval_data(run, args.split, None)
    res = evaluate(run.model, data, k=args.k, batch_size=args.batch_size, seed=args.seed, limit=args.limit,
                   compile=args.compile)
    res.update(split=args.split, which=args.which, seed=args.seed)
    write_json(run.dir / "metrics.json", res)
    bpd = f"({res['bits_per_dim']:.4f} bits/dim)  " if "bits_per_dim" in res else ""  # only where defined
    print(f"{args.split} ({res['n']} items, k={res['k']}): ELBO {res['elbo']:.3f}  log p(x) "
          f"{res['log_likelihood']:.3f} nats  {bpd}active units "
          f"{res['active_units']}/{res['latent_dim']}")
    print(f"wrote {run.dir / 'metrics.json'}")


def cmd_sample(args: argparse.Namespace) -> None:
    import torch

    from vaekit.run import load_run
    run = load_run(args.run_dir, args.which, args.device)
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    from vaekit.viz.convert import check_conditional, check_label

    k, nrow, y = getattr(run.model, "n_classes", 0), None, None
    if args.label is not None:
        check_label(args.label, check_conditional(run.model, "--label"))
    if k:  # --label c: all of class c; none: the classes in turn, one column each
        y = torch.arange(args.n) % k if args.label is None else torch.full((args.n,), args.label)
        nrow = k if args.label is None else None
    x = run.model.sample(args.n, generator=gen, y=None if y is None else y.to(args.device))
    _save_images_or_array(x, Path(args.out), run.model.event_shape, nrow)


def _save_images_or_array(x: Any, out: Path, shape: tuple[int, ...], nrow: int | None = None) -> None:
    """A grid PNG (+ .npy) for images asked as .png; otherwise the raw array as .npy."""
    import numpy as np

    from vaekit.viz.grid import save_grid

    if len(shape) == 3 and out.suffix.lower() == ".png":
        save_grid(x.clamp(0, 1), out, nrow)
        print(f"wrote {out} and {out.with_suffix('.npy')}")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        np.save(out.with_suffix(".npy"), x.cpu().numpy())
        print(f"wrote {out.with_suffix('.npy')}")


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from vaekit.run import load_run
    from vaekit.viz.grid import reconstruction_pairs

    run = load_run(args.run_dir, args.which, args.device)
    data = _eval_data(run, args.split, args.data).take(args.n)
    x = data.x.to(args.device)
    recon = run.model.reconstruct(x, _labels(run, data, args.label, args.device))
    if len(run.model.event_shape) == 3:
        pairs, ncol = reconstruction_pairs(x, recon)
        _save_images_or_array(pairs, Path(args.out), run.model.event_shape, ncol)
    else:
        _save_images_or_array(recon, Path(args.out), run.model.event_shape)


def cmd_encode(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from vaekit.data import TensorData, iterate_batches
    from vaekit.run import load_run

    run = load_run(args.run_dir, args.which, args.device)
    data = _eval_data(run, args.split, args.data)
    parts = [run.model.encode(x.to(args.device), _labels(run, TensorData(x, y), args.label, args.device))
             for x, y in iterate_batches(data, 1000, shuffle=False)]
    mean = torch.cat([q.mean for q in parts]).cpu().numpy()
    logvar = torch.cat([q.logvar for q in parts]).cpu().numpy()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        labels = data.labels.numpy() if data.labels is not None else np.zeros(0)
        np.savez(out, mean=mean, logvar=logvar, labels=labels)
    else:
        np.save(out, np.stack([mean, logvar], axis=1))  # (N, 2, D): [:, 0] means, [:, 1] log-variances
    print(f"wrote {out}: {len(mean)} items, latent size {mean.shape[1]}")


def _labels(run: Any, data: Any, label: int | None, device: str) -> Any:
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


def run_parser(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand that reads a run folder: RUN_DIR, --which, --device (shared by every such command)."""
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("run_dir", help="a run folder written by `vaekit train`")
    p.add_argument("--which", default="best", choices=["best", "last"], help="checkpoint (default: best)")
    p.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vaekit", description="Variational autoencoders: train, evaluate, "
                                     "sample, reconstruct, encode.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train a VAE", description="Train a VAE. Flags override --config.")
    p.add_argument("--config", help="a JSON/TOML/YAML config file with sections data, model, train")
    p.add_argument("--out", help="run folder to create (default: runs/DATA-MODEL-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last finished epoch")
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = run_parser(sub, "evaluate", "test ELBO, importance-sampled log-likelihood, bits/dim, active units")
    p.add_argument("--split", default="test", help="val or test (default: test)")
    p.add_argument("--k", type=int, default=5000, help="importance samples per data point (default: 5000)")
    p.add_argument("--limit", type=int, help="evaluate the first N items only")
    p.add_argument("--batch-size", type=int, help="data points per batch (default: chosen for memory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the samples (default: 0)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                   help="torch.compile the log-weights (about 1.5x faster at k = 5000; default: on)")
    p.set_defaults(func=cmd_evaluate)

    p = run_parser(sub, "sample", "decode draws from the prior into a grid PNG (and .npy)")
    p.add_argument("-n", type=int, default=64, help="how many samples (default: 64)")
    p.add_argument("--out", default="samples.png", help="output .png (grid) or .npy")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior draws (default: 0)")
    p.add_argument("--label", type=int, help="conditional model: the class to draw (default: every class in turn)")
    p.set_defaults(func=cmd_sample)

    for name, help, default in (("reconstruct", "inputs and their reconstructions, row by row",
                                 "reconstructions.png"),
                                ("encode", "posterior means and log-variances of data", "latents.npy")):
        p = run_parser(sub, name, help)
        p.add_argument("--data", help="an image, an image folder or a .npy/.npz (default: the run's --split)")
        p.add_argument("--split", default="test", help="split of the run's data set (default: test)")
        p.add_argument("--out", default=default, help=f"output file (default: {default})")
        p.add_argument("--label", type=int, help="conditional model: the inputs' class (default: the data's labels)")
        if name == "reconstruct":
            p.add_argument("-n", type=int, default=32, help="how many inputs (default: 32)")
        p.set_defaults(func=cmd_reconstruct if name == "reconstruct" else cmd_encode)
    for module in COMMAND_MODULES:  # further subcommands, each module's `register(sub)` adds its own
        importlib.import_module(module).register(sub)
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

