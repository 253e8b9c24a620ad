"""`vaekit train`: flags generated from the config dataclasses (each field's help is its --help)."""

from __future__ import annotations

import argparse
from typing import Any

from vaekit.cli.common import add_config_flags, config_from_args


def register(sub: Any) -> None:
    p = sub.add_parser("train", help="train a VAE", description="Train a VAE. Flags override --config.")
    p.add_argument("--config", help="a JSON/TOML/YAML config file with sections data, model, train")
    p.add_argument("--out", help="run folder to create (default: runs/DATA-MODEL-TIME)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last finished epoch")
    add_config_flags(p)
    p.set_defaults(func=cmd_train)



def cmd_train(args: argparse.Namespace) -> None:
    from vaekit.api import train
    from vaekit.config_files import read_config_file
    from vaekit.runs import default_run_dir, read_run_config

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
    for name in ("samples.png", "samples.txt", "reconstructions.png", "reconstructions.txt", "metrics.jsonl",
                 "config.json", "report.html"):  # pictures for images, text files for sentences
        if (run.dir / name).exists():
            print(f"  {run.dir / name}")
