"""The picture subcommands: `vaekit interpolate | traverse | manifold | scatter | curves | report | convert`.

Thin on purpose: parse, call the plain functions of vaekit.viz, write the items as the run's kind shows
them (a PNG grid of images, a text file of sentences) and the raw array as .npy beside it, print the files
written. Registered by `vaekit.cli`; torch and
matplotlib are imported inside the commands so that `vaekit --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaekit.errors import ConfigError

ITEM_SUFFIXES = (".png", ".txt", ".gif")


def register(sub: Any) -> None:
    """Add the picture subcommands to the `vaekit` subparsers."""
    from vaekit.cli.common import run_parser

    for add in (_add_interpolate, _add_traverse, _add_manifold, _add_scatter, _add_curves, _add_report, _add_convert):
        add(sub, run_parser)


def _add_interpolate(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "interpolate", "decoded paths between pairs of inputs or prior draws, one row per pair")
    _common(p, "interpolation.png", "the data endpoints are taken from", "the random pairs, the prior draws and ",
            items=True)
    p.add_argument("--source", default="data", choices=["data", "prior"],
                   help="endpoints: posterior means of items of --split, or draws from p(z) (default: data)")
    p.add_argument("--indices", metavar="I,J[,K,L...]", help="items to join, two by two (default: random pairs)")
    p.add_argument("--pairs", type=int, default=4, help="random pairs when --indices is not given (default: 4)")
    p.add_argument("--mode", default="slerp", choices=["linear", "slerp"], help="path (default: slerp)")
    p.add_argument("--steps", type=int, default=10, help="items per row, endpoints included (default: 10)")
    p.add_argument("--part", default="auto", choices=["auto", "all", "content", "motion"],
                   help="video models with a static latent: move the content f from the first video's to the "
                   "second's while the first's motion stays (content), the motion z_1:T under the first's content "
                   "(motion), or the whole code (all); auto: content for such models, all otherwise")
    p.set_defaults(func=cmd_interpolate)


def _add_traverse(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "traverse", "one row per latent dimension (most used first), that coordinate swept")
    _common(p, "traversal.png", "the items that rank the dimensions (and --index) are read from", items=True)
    p.add_argument("--dims", metavar="I,J,...", help="dimensions to draw (default: all)")
    p.add_argument("--top", type=int, help="draw only the N most used dimensions")
    p.add_argument("--range", nargs=2, type=float, default=[-3.0, 3.0], metavar=("LO", "HI"),
                   help="sweep values from LO to HI (default: -3 3)")
    p.add_argument("--steps", type=int, default=11, help="values per row (default: 11)")
    p.add_argument("--index", type=int, help="base code: the posterior mean of this item of --split (default: 0)")
    p.add_argument("--limit", type=int, default=1000, help="items of --split that rank the dimensions (default: 1000)")
    p.set_defaults(func=cmd_traverse)


def _add_manifold(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "manifold", "decoded grid over two latent dimensions at Gaussian quantiles (K&W Fig. 4)")
    _common(p, "manifold.png", "the items that rank the dimensions are read from", items=True)
    p.add_argument("-n", type=int, default=20, help="items per side (default: 20)")
    p.add_argument("--dims", metavar="I,J", help="the two dimensions, across and up (default: the two most used)")
    p.add_argument("--limit", type=int, default=1000, help="items of --split that rank the dimensions (default: 1000)")
    p.set_defaults(func=cmd_manifold)


def _add_scatter(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "scatter", "posterior means of a split in 2-D (PCA or t-SNE), coloured by label")
    _common(p, "scatter.png", "the points are read from", "t-SNE and ")
    p.add_argument("--method", default="pca", choices=["pca", "tsne"],
                   help="projection above 2-D latents; tsne needs scikit-learn (default: pca)")
    p.add_argument("--limit", type=int, default=2000, help="first N items of --split (default: 2000)")
    p.set_defaults(func=cmd_scatter)


def _add_curves(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "curves", "ELBO, rate and distortion, train and validation, from metrics.jsonl")
    p.add_argument("--out", default="curves.png", help="output .png; the epoch table goes to .npy beside it "
                   "(default: curves.png)")
    p.set_defaults(func=cmd_curves)


def _add_report(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "report", "one self-contained HTML page: config, metrics, curves and every picture")
    p.add_argument("--out", help="output .html (default: RUN_DIR/report.html)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pictures (default: 0)")
    p.set_defaults(func=cmd_report)


def _add_convert(sub: Any, run_parser: Any) -> None:
    p = run_parser(sub, "convert", "conditional VAE: keep inputs' style, decode them as another class (Sohn et al.); "
                   "video model: swap content and motion between videos (Li & Mandt)")
    _common(p, "conversion.png", "the inputs are read from (without --input)", items=True)
    p.add_argument("--input", help="items to convert, read as the run's data: an image, an image folder or a "
                   ".npy/.npz; a text file of sentences, one a line; a GIF/MP4 video or a folder of them, whose "
                   "content is swapped into the motion of -n test videos and back (default: items of --split)")
    p.add_argument("--from", dest="source", type=int, help="the class of the --input items (default: their labels)")
    p.add_argument("--to", type=int, help="the target class (default: every class, one column each)")
    p.add_argument("-n", type=int, default=10, help="how many inputs, one row each; of a video model, how many "
                   "test videos, swapped with each other in an N x N grid (default: 10)")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> None:
    """Rows: input, reconstruction, then the input's code decoded with the target class(es)."""
    import torch

    from vaekit.data import fixed_binarization
    from vaekit.kinds import load_path
    from vaekit.runs import load_run
    from vaekit.viz.common import load_items, shows
    from vaekit.viz.convert import check_conditional, check_label, conversion_rows
    from vaekit.viz.swap import can_swap

    out = _items_out(args.out)
    _positive(args.n, "-n")
    run = load_run(args.run_dir, args.which, args.device)
    if can_swap(run.model):
        swap_videos(run, args, out)
        return
    k = check_conditional(run.model, "vaekit convert")
    if args.input:
        data = fixed_binarization(load_path(args.input, run.config.data, stats=run.data_stats), args.seed).take(args.n)
    else:
        data = load_items(run, args.split, args.n, args.seed)
    if args.source is not None:
        check_label(args.source, k, "--from")
        y = torch.full((len(data.x),), args.source)
    elif data.labels is not None and torch.as_tensor(data.labels).dim() == 1:
        y = torch.as_tensor(data.labels)
    else:
        raise ConfigError(f"--input {args.input}: these items have no class labels; give their class with --from")
    rows = conversion_rows(run.model, data.x, y, None if args.to is None else [args.to])  # (N, 2 + T, *event)
    save_rows(run, rows, out, shows(run, data))


def swap_videos(run: Any, args: argparse.Namespace, out: Path) -> None:
    """A video model's conversion: content (f) and motion (z_1:T) swapped between the first -n videos of
    --split (`viz.swap.swap_grid`), or between the --input videos and those (`viz.swap.input_swap_rows`)."""
    from vaekit.data import fixed_binarization
    from vaekit.kinds import load_path
    from vaekit.viz.common import load_items, shows
    from vaekit.viz.swap import check_swap, input_swap_rows, swap_grid

    if args.source is not None or args.to is not None:
        raise ConfigError("--from and --to choose classes of a class-conditional model; this video model swaps "
                          "content and motion instead (give videos with --input, or none)")
    check_swap(run.model)
    partners = load_items(run, args.split, args.n, args.seed)
    if args.input:
        inputs = fixed_binarization(load_path(args.input, run.config.data, stats=run.data_stats), args.seed)
        inputs = inputs.take(args.n)
        rows = input_swap_rows(run.model, inputs.x, partners.x)
        print(f"first row: {args.split} videos 0..{len(partners.x) - 1}; then for each of the {len(inputs.x)} --input "
              "videos a row of its content in their motions and a row of their contents in its motion")
    else:
        rows = swap_grid(run.model, partners.x)
        print(f"row i: the content (f) of {args.split} video i, column j: the motion (z_1:T) of video j; the "
              "first row and column are the originals, the diagonal their reconstructions")
    save_rows(run, rows, out, shows(run, partners))


def _common(p: argparse.ArgumentParser, out: str, where: str, seeds: str = "", items: bool = False) -> None:
    what = ("output .png, .txt or .gif: the run's kind writes there with its own suffix (a PNG grid of images, a "
            ".txt of sentences, a GIF and a frame-strip PNG of videos)" if items else "output .png")
    p.add_argument("--out", default=out, help=f"{what}; the raw array goes to .npy beside it (default: {out})")
    p.add_argument("--split", default="test", help=f"train, val or test: where {where} (default: test)")
    p.add_argument("--seed", type=int, default=0, help=f"seed of {seeds}the one Bernoulli draw of dynamically "
                   "binarized data (default: 0)")


def _png_out(text: str) -> Path:
    out = Path(text)
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out {text!r}: expected a .png file name (the .npy is written beside it)")
    return out


def _items_out(text: str) -> Path:
    """--out of a command that writes items: the kind writes its own format there (`Kind.write_grid` sets the
    suffix: .png for images, .txt for sentences), so either name is taken."""
    out = Path(text)
    if out.suffix.lower() not in ITEM_SUFFIXES:
        raise ConfigError(f"--out {text!r}: expected a .png, .txt or .gif file name (images are written as a PNG "
                          "grid, sentences as a text file, videos as a GIF and a frame-strip PNG, each with its own "
                          "suffix; the .npy is written beside it)")
    return out


def _parse_ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values:
        raise ConfigError(f"{option} {text!r}: expected integers separated by commas")
    return values


def _positive(value: int | None, option: str) -> None:
    if value is not None and value < 1:
        raise ConfigError(f"{option} {value} must be >= 1")


def save_rows(run: Any, rows: Any, out: Path, shown: bool) -> None:
    """Rows of items (R, T, *event) -> one row each, as the run's kind shows them when `shown` (a PNG grid,
    a text file of numbered rows), and always the .npy of the rows; prints the files written."""
    import numpy as np

    from vaekit.cli.common import files_written
    from vaekit.kinds import kind_of
    from vaekit.viz.common import grid_rows

    out.parent.mkdir(parents=True, exist_ok=True)
    raw = out.with_suffix(".npy")
    np.save(raw, rows.detach().cpu().numpy())
    if shown:
        items, per_row = grid_rows(rows)
        written = kind_of(run.config.data.dataset).write_grid(items, out, per_row, run.data_stats)
        print(f"wrote {files_written([*written, raw])} ({rows.shape[0]} rows x {rows.shape[1]})")
    else:
        print(f"wrote {raw} {tuple(rows.shape)}: the run's items have no picture or text to show, only the array")


def cmd_interpolate(args: argparse.Namespace) -> None:
    from vaekit.runs import load_run
    from vaekit.viz.common import load_items, shows
    from vaekit.viz.interpolate import check_steps, choose_pairs, interpolate_inputs, interpolate_prior
    from vaekit.viz.swap import interpolate_part

    out = _items_out(args.out)
    check_steps(args.steps)
    indices = _parse_ints(args.indices, "--indices") if args.indices else None
    if indices is not None and args.source == "prior":
        raise ConfigError("--indices picks data items; it cannot be combined with --source prior")
    run = load_run(args.run_dir, args.which, args.device)
    data = load_items(run, args.split, max(indices) + 1 if indices else 1000, args.seed)
    shown = shows(run, data)
    if args.source == "prior":
        rows = interpolate_prior(run.model, args.pairs, args.steps, args.mode, args.seed)
        print(f"{args.pairs} pairs of prior draws (seed {args.seed}), {args.mode}")
    else:
        pairs = choose_pairs(len(data), args.pairs, indices, args.seed)
        i0, i1 = [a for a, _ in pairs], [b for _, b in pairs]
        part = _interpolation_part(run.model, args.part)
        if part == "all":
            rows = interpolate_inputs(run.model, data.x[i0], data.x[i1], args.steps, args.mode)
        else:
            rows = interpolate_part(run.model, data.x[i0], data.x[i1], args.steps, args.mode, part)
        print(f"pairs of {args.split} items {', '.join(f'{a}-{b}' for a, b in pairs)}, {args.mode}"
              + ("" if part == "all" else f", {part} only (the other part of the first item's code stays)"))
    save_rows(run, rows, out, shown)


def _interpolation_part(model: Any, part: str) -> str:
    """--part resolved for this model: content or motion alone only where the code splits into them."""
    from vaekit.viz.swap import check_swap, has_content

    if part == "auto":
        return "content" if has_content(model) else "all"
    if part != "all":
        check_swap(model)
    return part


def cmd_traverse(args: argparse.Namespace) -> None:
    from vaekit.runs import load_run
    from vaekit.viz.common import check_index, load_items, posterior_means, shows
    from vaekit.viz.traverse import sweep_values, traverse
    from vaekit.viz.usage import parse_dims

    out = _items_out(args.out)
    _positive(args.limit, "--limit")
    _positive(args.top, "--top")
    values = sweep_values(args.range[0], args.range[1], args.steps)
    run = load_run(args.run_dir, args.which, args.device)
    dims = parse_dims(args.dims, run.model.latent_dim)
    n = max(args.limit, (args.index or 0) + 1)
    data = load_items(run, args.split, n, args.seed)
    base = None
    if args.index is not None:
        check_index(args.index, len(data), "--index")
        base = posterior_means(run.model, data.x[args.index:args.index + 1])[0]
    shown = shows(run, data)
    t = traverse(run.model, data.x[:args.limit], base=base, dims=dims, top=args.top, values=values)
    print("rows, most used first: " + "; ".join(t.usage.describe(d) for d in t.dims))
    save_rows(run, t.images, out, shown)


def cmd_manifold(args: argparse.Namespace) -> None:
    from vaekit.runs import load_run
    from vaekit.viz.common import load_items, shows
    from vaekit.viz.manifold import default_dims, grid_quantiles, manifold
    from vaekit.viz.usage import dimension_usage, parse_dims

    out = _items_out(args.out)
    _positive(args.limit, "--limit")
    grid_quantiles(args.n)  # checks -n
    run = load_run(args.run_dir, args.which, args.device)
    dims = parse_dims(args.dims, run.model.latent_dim)
    if dims is not None and len(dims) != 2:
        raise ConfigError(f"--dims {args.dims!r}: the manifold spans exactly two dimensions, I,J")
    data = load_items(run, args.split, args.limit, args.seed)
    if dims is None and run.model.latent_dim == 2:
        dims = [0, 1]
    elif dims is None:
        dims = list(default_dims(dimension_usage(run.model, data.x)))
    shown = shows(run, data)
    print(f"z{dims[0]} across, z{dims[1]} up, at Gaussian quantiles (i + 0.5)/{args.n}")
    save_rows(run, manifold(run.model, args.n, (dims[0], dims[1])), out, shown)


def cmd_scatter(args: argparse.Namespace) -> None:
    import numpy as np

    from vaekit.runs import load_run
    from vaekit.viz.common import load_items
    from vaekit.viz.scatter import latent_scatter, legend_of, plot_scatter

    out = _png_out(args.out)
    _positive(args.limit, "--limit")
    run = load_run(args.run_dir, args.which, args.device)
    data = load_items(run, args.split, args.limit, args.seed)
    emb, colours = latent_scatter(run.model, data, args.method, args.seed)
    title, names = legend_of(data.labels, data.label_names)
    plot_scatter(emb, colours, out, f"posterior means of {len(data)} {args.split} items", title, names)
    np.save(out.with_suffix(".npy"), emb.coords)
    print(f"wrote {out} and {out.with_suffix('.npy')} ({len(data)} points, {emb.axes[0]} / {emb.axes[1]})")


def cmd_curves(args: argparse.Namespace) -> None:
    import numpy as np

    from vaekit.viz.curves import EPOCH_COLUMNS, plot_curves, read_curves

    out = _png_out(args.out)
    curves = read_curves(args.run_dir)
    plot_curves(curves, out)
    table = curves.epoch_table()
    np.save(out.with_suffix(".npy"), table)
    print(f"wrote {out} and {out.with_suffix('.npy')} ({len(table)} epochs x {', '.join(EPOCH_COLUMNS)})")


def cmd_report(args: argparse.Namespace) -> None:
    from vaekit.viz.report import write_report

    if args.out is not None and Path(args.out).suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {args.out!r}: expected an .html file name")
    print(f"wrote {write_report(args.run_dir, args.out, which=args.which, device=args.device, seed=args.seed)}")
