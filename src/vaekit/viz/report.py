"""One self-contained HTML page per run: its key figures, every picture of vaekit.viz, curves, metrics, config.

Everything is embedded (pictures as base64 `data:image/png` URIs, styles inline), so the file can be
mailed, archived or opened offline and stays valid when the run folder moves. The pictures come from
the same plain functions as the `vaekit interpolate/traverse/manifold/scatter/curves` commands, on a
small test sample, so a report of a small model takes a few seconds. Items are shown as the run's kind
shows them (`Kind.html_grid`: images as embedded PNG grids, sentences as numbered lists of words); runs
whose items have nothing to show (arrays of event shape (D,)) keep config, metrics, curves and the latent
scatter. The key figures are in nats and in the kind's per-item unit (`Kind.unit`: bits/dim, nats/token
and perplexity) where it has one.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from vaekit.kinds import Unit, kind_of
from vaekit.kinds.images.grid import reconstruction_pairs
from vaekit.runs.paths import RunPaths
from vaekit.viz.common import grid_rows, load_items, model_device

SAMPLE_ITEMS = 1000  # test items the pictures and the scatter read
STYLE = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
img{image-rendering:pixelated;max-width:100%}table{border-collapse:collapse;font-size:.9em}
td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}pre{background:#f6f6f6;padding:1em;
overflow-x:auto;font-size:.85em}p.note{color:#666}p.summary{font-size:1.1em;line-height:1.5}
summary{cursor:pointer;color:#444}"""


Show = Callable[..., str]  # show(items, alt, per_row=None) -> HTML: the run's kind's html_grid


@dataclass
class Section:
    title: str
    body: str  # HTML


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def img_tag(png: bytes, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img src="{png_data_uri(png)}" alt="{html.escape(alt)}"{w}>'


def rows_html(show: Show, rows: torch.Tensor, alt: str) -> str:
    """Rows of items (R, T, *event) — interpolations, traversals — as the kind shows them, a row each."""
    items, per_row = grid_rows(rows)  # (R*T, *event)
    return show(items, alt, per_row)


def figure_png(draw: Callable[[io.BytesIO], None]) -> bytes:
    """Run a matplotlib drawing call `draw(out)` into memory and return the PNG bytes."""
    buf = io.BytesIO()
    draw(buf)
    return buf.getvalue()


LIKELIHOOD_NAMES = {"bernoulli": "Bernoulli", "bernoulli_ar": "autoregressive Bernoulli", "gaussian": "Gaussian",
                    "logistic": "discretized logistic", "logistic_mixture": "discretized logistic-mixture"}
MODEL_NAMES = {"mlp": "MLP VAE", "conv": "convolutional VAE", "resnet": "residual convolutional VAE",
               "resmlp": "residual-MLP VAE", "lstm": "LSTM sentence VAE", "lm": "LSTM language model"}
PRIOR_NAMES = {"mog": "a mixture-of-Gaussians prior", "vamp": "a VampPrior"}


def last_epoch(run: Any) -> dict[str, Any] | None:
    """The last epoch record of metrics.jsonl (None before the first epoch ends)."""
    return next((r for r in reversed(run.metrics) if r.get("kind") == "epoch"), None)


def evaluated_metrics(run: Any) -> dict[str, Any] | None:
    """`vaekit evaluate`'s metrics.json, when it has been run."""
    path = RunPaths(run.dir).evaluation
    return json.loads(path.read_text()) if path.is_file() else None


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def in_unit(record: dict[str, Any], prefix: str, unit: Unit | None) -> str:
    """record[prefix + unit.key] in the kind's per-item unit, with its exp where the unit has one: e.g.
    "1.23 bits/dim" or "2.31 nats/token, perplexity 10.1"; "" where the unit or the value is missing."""
    if unit is None or record.get(prefix + unit.key) is None:
        return ""
    text = f"{record[prefix + unit.key]:.3g} {unit.name}"
    if unit.exp_key and record.get(prefix + unit.exp_key) is not None:
        text += f", {unit.exp_key} {record[prefix + unit.exp_key]:.3g}"
    return text


def nats(value: float, unit_text: str = "") -> str:
    """An ELBO or log-likelihood in nats per data point, with the per-item unit where it is defined."""
    text = f"{value:.1f} nats"
    return text + f" ({unit_text})" if unit_text else text


def model_phrase(run: Any) -> str:
    """E.g. "MLP VAE (hidden 400), 20 latent dimensions, Bernoulli likelihood"."""
    m, t = run.config.model, run.config.train
    kind = ("class-conditional " if m.conditional else "") + MODEL_NAMES.get(m.arch, f"{m.arch} VAE")
    hidden = f" (hidden {'-'.join(map(str, m.hidden))})" if m.arch in ("mlp", "resmlp") else ""
    latents = f"{m.latent_dim} latent dimensions"
    if m.latent_layers:
        latents += f" (and {', '.join(map(str, m.latent_layers))} in the layers above, {m.inference} inference)"
    parts = [f"{kind}{hidden}", latents, f"{LIKELIHOOD_NAMES.get(m.likelihood, m.likelihood)} likelihood"]
    if m.prior in PRIOR_NAMES:
        parts.append(PRIOR_NAMES[m.prior])
    if t.objective == "iwae":
        parts.append(f"IWAE objective (k = {t.iwae_k})")
    if t.beta != 1.0:
        parts.append(f"beta = {t.beta:g}")
    return ", ".join(parts)


def summary_sentence(run: Any, unit: Unit | None = None) -> str:
    """The report's opening sentence: the model, its training and its key figures, in nats and in the kind's
    per-item unit `unit` (bits/dim; nats/token and perplexity), the KL (rate) and the active units."""
    last, ev = last_epoch(run), evaluated_metrics(run)
    shape = "x".join(map(str, run.event_shape))
    text = f"{model_phrase(run)}, "
    if last is None:
        return text + f"on {run.config.data.dataset} ({shape}): no epoch has finished yet."
    text += (f"trained {last['epoch']} epoch{'s' if last['epoch'] != 1 else ''} "
             f"({duration(last.get('wall_seconds', last['train_seconds']))}) on {run.config.data.dataset} ({shape})")
    figures = []
    if ev is not None:
        split = ev.get("split", "test")
        per_item = in_unit(ev, "", unit)
        figures.append(f"{split} log p(x) {ev['log_likelihood']:.1f} nats ({per_item + ', ' if per_item else ''}"
                       f"k = {ev['k']})")
        figures.append(f"{split} ELBO {nats(ev['elbo'])}")
    figures.append(f"validation ELBO {nats(last['val_elbo'], in_unit(last, 'val_', unit))}")
    if last.get("val_rate") is not None:
        figures.append(f"validation KL(q(z|x) || p(z)) {last['val_rate']:.2f} nats")
    text += "; " + ", ".join(figures)
    if ev is None:
        return text + ". (vaekit evaluate adds the test log-likelihood and the active units.)"
    if "active_units" in ev:
        text += f"; active units {ev['active_units']} of {ev['latent_dim']}"
    return text + "."


def _table(rows: list[tuple[str, str, str]]) -> str:
    """Rows of (label, value, source key); the key shows on hover, to find the number in the run's files."""
    cells = "".join(f'<tr><th title="{html.escape(key)}">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
                    for label, value, key in rows)
    return f"<table>{cells}</table>"


def _rows(record: dict[str, Any], spec: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """(label, value, key) for the keys of `spec` = [(key, label, format)] present in `record`."""
    return [(label, fmt.format(record[key]), key) for key, label, fmt in spec if record.get(key) is not None]


EPOCH_ROWS = [("epoch", "epochs trained", "{}"), ("step", "optimizer steps", "{}"),
              ("wall_seconds", "training and validation time", "{:.1f} s"),
              ("images_per_s", "speed (last epoch)", "{:.0f} items/s"),
              ("train_elbo", "train ELBO (last epoch, running)", "{:.4f} nats"),
              ("val_elbo", "validation ELBO", "{:.4f} nats"),
              ("val_rate", "validation rate, KL(q(z|x) || p(z))", "{:.4f} nats"),
              ("val_distortion", "validation distortion, -E_q log p(x|z)", "{:.4f} nats"),
              ("val_bits_per_dim", "validation ELBO in bits/dim", "{:.4f} bits/dim"),
              ("val_nats_per_token", "validation ELBO in nats/token", "{:.4f} nats/token"),
              ("val_perplexity", "validation perplexity, exp of the ELBO's nats/token", "{:.2f}"),
              ("val_log_likelihood", "validation log p(x), importance-sampled", "{:.4f} nats"),
              ("skipped_steps", "skipped non-finite steps (last epoch)", "{}"), ("lr", "learning rate", "{:g}")]
EVALUATION_ROWS = [("log_likelihood", "log p(x), importance-sampled", "{:.4f} nats"),
                   ("bits_per_dim", "negative log p(x) in bits/dim", "{:.4f} bits/dim"),
                   ("elbo", "ELBO", "{:.4f} nats"),
                   ("elbo_bits_per_dim", "negative ELBO in bits/dim", "{:.4f} bits/dim"),
                   ("nats_per_token", "negative log p(x) in nats/token", "{:.4f} nats/token"),
                   ("perplexity", "perplexity, exp of nats/token", "{:.2f}"),
                   ("elbo_nats_per_token", "negative ELBO in nats/token", "{:.4f} nats/token"),
                   ("active_units", "active units (Burda et al. 2015)", "{}"),
                   ("latent_dim", "latent dimensions", "{}"),
                   ("k", "importance samples k", "{}"), ("n", "items", "{}"), ("which", "checkpoint", "{}")]


def config_section(run: Any) -> Section:
    text = html.escape(json.dumps(run.config.to_dict(), indent=2), quote=False)
    return Section("Config", f"<details><summary>the full config (config.json)</summary><pre>{text}</pre></details>")


def metrics_section(run: Any) -> Section:
    """The last epoch of training, and `vaekit evaluate`'s metrics.json when there is one (nats per data point)."""
    last, ev = last_epoch(run), evaluated_metrics(run)
    body = "<h3>training</h3>" + (_table(_rows(last, EPOCH_ROWS)) if last else '<p class="note">no epoch finished</p>')
    if ev is not None:
        split = html.escape(str(ev.get("split", "test")))
        body += f"<h3>evaluation on the {split} split (<code>vaekit evaluate</code>)</h3>"
        body += _table(_rows(ev, EVALUATION_ROWS))
    return Section("Metrics", body + '<p class="note">ELBO = -(rate + distortion); nats per data point; hover over '
                   "a label for its key in metrics.jsonl / metrics.json</p>")


def curves_section(run: Any) -> Section | None:
    from vaekit.viz.curves import metrics_path, plot_curves, read_curves

    if not metrics_path(run.dir).is_file():
        return None
    curves = read_curves(run.dir)
    png = figure_png(lambda out: plot_curves(curves, out))
    return Section("Loss curves", img_tag(png, "loss curves") + '<p class="note">ELBO = -(rate + distortion), '
                   "in nats per data point; see docs/visualisation.md.</p>")


def scatter_section(model: Any, data: Any, seed: int) -> Section:
    from vaekit.viz.scatter import latent_scatter, legend_of, plot_scatter

    emb, colours = latent_scatter(model, data, "pca", seed)
    title, names = legend_of(data.labels, data.label_names)
    note = f"posterior means E_q[z|x] of {len(data)} test items, {emb.axes[0]} / {emb.axes[1]}"
    png = figure_png(lambda out: plot_scatter(emb, colours, out, note, title, names))
    return Section("Latent scatter", img_tag(png, "latent scatter") + f'<p class="note">{html.escape(note)}</p>')


def samples_section(show: Show, model: Any, seed: int) -> Section:
    gen = torch.Generator(device=model_device(model)).manual_seed(seed)
    grid = show(model.sample(64, generator=gen).cpu(), "samples", 8)
    return Section("Samples", grid + '<p class="note">means of p(x|z) (of sentences: greedy decoding), z ~ p(z), '
                   f"seed {seed}</p>")


def reconstructions_section(show: Show, model: Any, data: Any) -> Section:
    x = data.x[:32]
    pairs, ncol = reconstruction_pairs(x, model.reconstruct(x.to(model_device(model))).cpu())
    grid = show(pairs, "reconstructions", ncol)
    return Section("Reconstructions", grid + '<p class="note">rows alternate: '
                   "test inputs, then the means of p(x|z) at their posterior means</p>")


def interpolations_section(show: Show, model: Any, data: Any, seed: int, steps: int = 10) -> Section:
    from vaekit.viz.interpolate import choose_pairs, interpolate_inputs, interpolate_prior

    pairs = choose_pairs(len(data), 4, seed=seed)
    i0, i1 = [a for a, _ in pairs], [b for _, b in pairs]
    body = ""
    shown = ((interpolate_inputs(model, data.x[i0], data.x[i1], steps, "linear"),
              f"linear, between the posterior means of test items {pairs}"),
             (interpolate_prior(model, 4, steps, "slerp", seed), f"slerp, between prior draws (seed {seed})"))
    for paths, what in shown:
        body += rows_html(show, paths, what) + f'<p class="note">{html.escape(what)}</p>'
    return Section("Interpolations", body)


def traversal_section(show: Show, model: Any, data: Any, usage: Any, top: int = 10) -> Section:
    from vaekit.viz.traverse import traverse

    t = traverse(model, data.x, usage=usage, top=top)
    rows = "; ".join(t.usage.describe(d) for d in t.dims)
    grid = rows_html(show, t.images, "traversals")
    return Section("Latent traversals", grid + '<p class="note">one row per dimension, '
                   f"most used first ({html.escape(rows)}); values {t.values[0]:.1f}..{t.values[-1]:.1f}, others 0</p>")


def manifold_section(show: Show, model: Any, usage: Any, n: int = 15) -> Section:
    from vaekit.viz.manifold import default_dims, manifold

    if model.latent_dim < 2:
        return Section("2-D manifold", '<p class="note">skipped: the latent space has 1 dimension</p>')
    dims = default_dims(usage)
    grid = rows_html(show, manifold(model, n, dims), "manifold")
    return Section("2-D manifold", grid + '<p class="note">Kingma &amp; Welling (2013), '
                   f"Fig. 4: z{dims[0]} (across) and z{dims[1]} (up) at Gaussian quantiles (i + 0.5)/{n}, others 0</p>")


def conditional_sections(show: Show, model: Any, data: Any, seed: int) -> list[Section]:
    """A class-conditional model: samples of every class, and test inputs converted to every class."""
    from vaekit.viz.convert import class_samples, conversion_rows

    samples = class_samples(model, 8, seed)  # (K, 8, C, H, W)
    rows = conversion_rows(model, data.x[:8], data.labels[:8])  # (8, 2 + K, C, H, W)
    return [Section("Samples by class", rows_html(show, samples, "class samples") + '<p class="note">row c: means of '
                    f"p(x|z, y=c) for the same 8 draws z ~ p(z) (seed {seed})</p>"),
            Section("Conversion", rows_html(show, rows, "conversion") + '<p class="note">each row: a test input, '
                    "its reconstruction, then its code z = E q(z|x, y) decoded with every class "
                    "(Sohn et al. 2015)</p>")]


def swap_section(show: Show, model: Any, data: Any, k: int = 4) -> Section:
    """A model with content and motion latents (videos): the first k test items' contents in each other's motions."""
    from vaekit.viz.swap import swap_grid

    grid = rows_html(show, swap_grid(model, data.x[:k].to(model_device(model))), "swaps")
    return Section("Content and motion swapped", grid + '<p class="note">first row and column: test videos; row i '
                   "the content f of video i, column j the motion z_1:T of video j, both at their posterior means "
                   "(the diagonal: reconstructions; Li &amp; Mandt 2018)</p>")


def item_sections(show: Show, model: Any, data: Any, seed: int) -> list[Section]:
    """What the model does to items, shown as its kind shows them (`Kind.html_grid`)."""
    from vaekit.viz.swap import has_content
    from vaekit.viz.usage import dimension_usage

    if getattr(model, "n_classes", 0):
        return conditional_sections(show, model, data, seed)

    usage = dimension_usage(model, data.x)
    swaps = [swap_section(show, model, data)] if has_content(model) else []
    return [samples_section(show, model, seed), reconstructions_section(show, model, data), *swaps,
            interpolations_section(show, model, data, seed), traversal_section(show, model, data, usage),
            manifold_section(show, model, usage)]


def render_page(title: str, sections: list[Section], summary: str = "") -> str:
    """The page: its title, the summary sentence, then the sections in the order given."""
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if summary:
        parts.append(f'<p class="summary">{html.escape(summary)}</p>')
    parts.append(f'<p class="note">written {datetime.now().isoformat(timespec="seconds")} by vaekit</p>')
    parts += [f"<section><h2>{html.escape(s.title)}</h2>\n{s.body}</section>" for s in sections]
    return "\n".join([*parts, "</body></html>\n"])


@torch.no_grad()
def write_report(run_dir: str | Path, out: str | Path | None = None, *, which: str = "best",
                 device: str = "cpu", seed: int = 0) -> Path:
    """Write RUN_DIR/report.html (or `out`): one self-contained HTML page; returns its path.

    What a reader looks for comes first: the key figures in one sentence, then samples and
    reconstructions, the other pictures, the curves and metrics, and the full config folded away.
    """
    from vaekit.runs import load_run

    run = load_run(run_dir, which, device)
    data = load_items(run, "test", SAMPLE_ITEMS, seed)
    sections: list[Section | None] = []
    kind = kind_of(run.config.data.dataset)
    show = functools.partial(kind.html_grid, stats=run.data_stats)  # e.g. a text run's vocabulary
    if kind.shows(tuple(run.model.event_shape), data) and len(data) >= 2:
        sections += item_sections(show, run.model, data, seed)
    elif kind.shows(tuple(run.model.event_shape), data):  # interpolations, rankings and scatters need two items
        sections.append(samples_section(show, run.model, seed))
    else:
        sections.append(Section("Pictures", f'<p class="note">skipped: {kind.name} data (event shape '
                                f"{tuple(run.model.event_shape)}) have no picture</p>"))
    if len(data) >= 2:
        sections.append(scatter_section(run.model, data, seed))
    sections += [curves_section(run), metrics_section(run), config_section(run)]
    path = Path(out) if out is not None else RunPaths(run.dir).report
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_page(f"vaekit run {run.dir.name} ({which} checkpoint)", [s for s in sections if s],
                       summary_sentence(run, kind.unit(run.model, data)))
    path.write_text(page, encoding="utf-8")
    return path
