"""Commands on a trained model: `vaekit evaluate | sample | reconstruct | encode`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaekit.cli.common import eval_data, labels_for, run_parser, write_items
from vaekit.errors import ConfigError


def register(sub: Any) -> None:
    p = run_parser(sub, "evaluate", "test ELBO, importance-sampled log-likelihood, bits/dim, active units")
    p.add_argument("--split", default="test", help="val or test (default: test)")
    p.add_argument("--k", type=int, help="importance samples per data point (default: 5000 for images and "
                   "arrays, 500 for sentences and videos)")
    p.add_argument("--limit", type=int, help="evaluate N items of the split drawn at random (seeded by --seed), "
                   "e.g. for a quick estimate (default: all)")
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
    add_decoding_flags(p)
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
            p.add_argument("--seed", type=int, default=0, help="seed of --decoding sample (default: 0)")
            add_decoding_flags(p)
        p.set_defaults(func=cmd_reconstruct if name == "reconstruct" else cmd_encode)


def add_decoding_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--decoding", default="mean", choices=["mean", "sample", "beam"],
                   help="how z becomes an item: mean (the mean image; for sentences greedy decoding), sample "
                        "(a draw from p(x|z)), beam (sentences: beam search) (default: mean)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="--decoding sample of sentences: sharpen (< 1) or flatten (> 1) each step's softmax")
    p.add_argument("--beam", type=int, default=5, help="--decoding beam: beams per sentence (default: 5)")


def decoded(px: Any, args: argparse.Namespace, generator: Any) -> Any:
    """Items from p(x|z) as --decoding, --temperature and --beam say."""
    import inspect

    if args.decoding == "mean":
        return px.mean
    if args.decoding == "beam":
        if not hasattr(px, "beam"):
            raise ConfigError("--decoding beam searches for sentences; this model's items are not sentences")
        if args.beam < 1:
            raise ConfigError(f"--beam {args.beam} must be >= 1")
        return px.beam(args.beam)
    if "temperature" in inspect.signature(px.sample).parameters:
        if args.temperature <= 0:
            raise ConfigError(f"--temperature {args.temperature} must be > 0")
        return px.sample(generator, temperature=args.temperature)
    if args.temperature != 1.0:
        raise ConfigError("--temperature applies to sentences; this model samples its items at temperature 1")
    return px.sample(generator)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from vaekit.evaluation import evaluate
    from vaekit.kinds import kind_of
    from vaekit.runs import RunPaths, load_run, write_json

    if args.k is not None and args.k < 1:
        raise ConfigError(f"--k {args.k} must be >= 1")
    run = load_run(args.run_dir, args.which, args.device)
    k = kind_of(run.config.data.dataset).eval_k if args.k is None else args.k
    data = eval_data(run, args.split, None)
    res = evaluate(run.model, data, k=k, batch_size=args.batch_size, seed=args.seed, limit=args.limit,
                   compile=args.compile)
    res.update(split=args.split, which=args.which, seed=args.seed)
    write_json(RunPaths(run.dir).evaluation, res)
    per = f"({res[res['unit_key']]:.4f} {res['unit']})  " if "unit" in res else ""  # only where defined
    per += f"perplexity {res['perplexity']:.2f}  " if "perplexity" in res else ""
    per += f"KL {sum(res['kl_per_dim']):.3f}  MI {res['mutual_information']:.3f} nats  " \
        if "mutual_information" in res else ""
    print(f"{args.split} ({res['n']} items, k={res['k']}): ELBO {res['elbo']:.3f}  log p(x) "
          f"{res['log_likelihood']:.3f} nats  {per}active units "
          f"{res['active_units']}/{res['latent_dim']}")
    print(f"wrote {run.dir / 'metrics.json'}")


def cmd_sample(args: argparse.Namespace) -> None:
    import torch

    from vaekit.runs import load_run
    run = load_run(args.run_dir, args.which, args.device)
    gen = torch.Generator(device=args.device).manual_seed(args.seed)
    from vaekit.viz.convert import check_conditional, check_label

    k, nrow, y = getattr(run.model, "n_classes", 0), None, None
    if args.label is not None:
        check_label(args.label, check_conditional(run.model, "--label"))
    if k:  # --label c: all of class c; none: the classes in turn, one column each
        y = torch.arange(args.n) % k if args.label is None else torch.full((args.n,), args.label)
        nrow = k if args.label is None else None
    with torch.no_grad():
        px = run.model.likelihood(run.model.prior_sample(args.n, gen), None if y is None else y.to(args.device))
        x = decoded(px, args, gen)
    write_items(run, x, Path(args.out), nrow)


def cmd_reconstruct(args: argparse.Namespace) -> None:
    from vaekit.kinds.images.grid import reconstruction_pairs
    from vaekit.runs import load_run
    from vaekit.viz.common import shows

    run = load_run(args.run_dir, args.which, args.device)
    data = eval_data(run, args.split, args.data).take(args.n)
    import torch

    x = data.x.to(args.device)
    y = labels_for(run, data, args.label, args.device)
    with torch.no_grad():
        recon = decoded(run.model.likelihood(run.model.encode(x, y).mean, y), args,
                        torch.Generator(device=args.device).manual_seed(args.seed))
    if shows(run, data):
        pairs, ncol = reconstruction_pairs(x, recon)
        write_items(run, pairs, Path(args.out), ncol)
    else:
        write_items(run, recon, Path(args.out))


def cmd_encode(args: argparse.Namespace) -> None:
    import numpy as np
    import torch

    from vaekit.data import TensorData, iterate_batches
    from vaekit.runs import load_run

    run = load_run(args.run_dir, args.which, args.device)
    data = eval_data(run, args.split, args.data)
    parts = [run.model.encode(x.to(args.device), labels_for(run, TensorData(x, y), args.label, args.device))
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
