"""Video VAEs on moving shapes and Moving MNIST: the disentangled sequential VAE (static f, per-frame z_t under a
learned prior; Li & Mandt 2018) against the same model without f and the image VAE applied frame by frame, with
the same training budget, evaluated on the test split as densities and by judges of what they show.

    .venv/bin/python benchmarks/videos.py --write                                   # moving-shapes
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/videos.py --data moving-mnist --write
    .venv/bin/python benchmarks/videos.py --smoke                                   # seconds

Every model has the video kind's default networks and the same budget, --max-minutes of training (--epochs is
only an upper bound). On --eval-limit random test videos (the same for every model) each model gets: log p(x)
by importance sampling (k = the kind's eval_k unless --k), in nats per video and per frame, the ELBO, the KL
and the active units. The sequential VAE is also judged (`vaekit.kinds.videos.measures`): the content judge
(shape or digit) and the motion judge (start direction), trained on the training videos' pixels, on the real
test videos, their reconstructions, swaps (f of one video, z_1:T of another) and videos with z_1:T or f drawn
anew from the prior. The page is docs/video_results.md (--write), one section per data set.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

from results_cli import add_output_args, likelihood, parse_with_smoke, run_and_write, train_settings
from sounds import trained
from texts import merged

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "video_results.md"
# the factors judged, each with the features of what it is (vaekit.kinds.videos.measures)
FACTORS = {"moving-shapes": {"shape": "content", "colour": "content", "scale": "content", "direction": "motion",
                             "speed": "motion"},
           "moving-mnist": {"digit": "content", "direction": "motion", "speed": "motion"}}
MODELS = {"dsae": ("sequential VAE (f and z_t)", {}),
          "seq": ("without f (z_t only)", {"model": {"static_dim": 0}}),
          "frames": ("image VAE, frame by frame", {"model": {"arch": "frames"}})}


def base_config(args: argparse.Namespace) -> dict:
    data: dict[str, Any] = {"dataset": args.data, **(SMOKE_DATA if args.smoke else {})}
    if args.data == "moving-mnist":  # binary frames: the Bernoulli p(x|z) is then a mass and log p(x) a code length
        data["binarize"] = "static"
    train = train_settings(args)
    return {"data": data, "model": dict(SMOKE_MODEL) if args.smoke else {}, "train": train}


def run_all(args: argparse.Namespace, root: Path) -> dict:
    """Train every model; measure each on the same test videos; judge the sequential VAE."""
    from vaekit.config import Config
    from vaekit.data import random_items
    from vaekit.kinds import load_split
    from vaekit.kinds.videos.measures import swap_measures, train_judges

    base, results = base_config(args), {}
    for key, (label, overrides) in MODELS.items():
        cfg = Config.from_dict(merged(base, overrides), source=f"benchmark model {key}")
        run, minutes = trained(cfg, root / key, args.reuse)
        test = random_items(load_split(run.config.data, "test", stats=run.data_stats), args.eval_limit or None,
                            args.seed)
        results[key] = {"label": label, "overrides": overrides, "train_minutes": minutes,
                        **likelihood(run, test, args, "nats_per_frame")}
        if key == "dsae":
            start = time.perf_counter()
            judges = train_judges(load_split(run.config.data, "train", stats=run.data_stats), FACTORS[args.data])
            results["judge_seconds"] = time.perf_counter() - start
            results["swaps"] = swap_measures(run.model, test, judges, n=len(test), seed=args.seed)
        print(json.dumps({key: results[key]}, default=str), flush=True)
    return results


def likelihood_table(results: dict) -> str:
    head = ["model", "−log p(x), nats/video", "nats/frame", "−ELBO, nats/video", "−ELBO, nats/frame", "KL", "AU",
            "epochs", "training min", "evaluation min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in MODELS:
        r = results[key]
        cells = [r["label"], f"{-r['log_likelihood']:,.1f}", f"{r['nats_per_frame']:.2f}", f"{-r['elbo']:,.1f}",
                 f"{r['elbo_nats_per_frame']:.2f}", f"{r['kl']:.1f}", f"{r['active_units']} / {r['latent_dim']}",
                 str(r["epochs"]), f"{r['train_minutes']:.2f}", f"{r['eval_minutes']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def swap_table(swaps: dict) -> str:
    """Each factor's judge's accuracy (%) on real, reconstructed, swapped and resampled test videos."""
    names = list(swaps)
    rows = [("real test videos", "real"), ("reconstructions", "recon"),
            ("swap: f of video a, z_1:T of video b (content: a's; motion: b's)", "swap"),
            ("resampled: z_1:T drawn from p(z_t \\| z_<t) (content kept) / f from p(f) (motion kept)", "kept"),
            ("chance (the most frequent class)", "chance")]
    head = [f"{n} ({swaps[n]['what']})" for n in names]
    lines = ["| videos | " + " | ".join(head) + " |", "|---|" + "---|" * len(names)]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(f"{100 * swaps[n][key]:.1f} %" for n in names) + " |")
    return "\n".join(lines)


def section(results: dict, args: argparse.Namespace, command: str) -> str:
    from throughput import machine

    first = results["dsae"]
    budget = f"{args.max_minutes:g} minutes of training each" if args.max_minutes else f"{args.epochs} epochs each"
    binary = ", frames binarized at 0.5 (`--binarize static`)" if args.data == "moving-mnist" else ""
    return (f"## {args.data}\n\nCommand: `{command}`  \nMachine: {machine()}; date {date.today()}.  \n{budget} (at "
            f"most {args.epochs} epochs){binary}; test figures on {first['n']:,} random test videos, log p(x) by "
            f"importance sampling with k = {first['k']}. KL is the test mean of KL(q || p) over all latents; AU "
            f"counts the active units of the flat latent (f and every z_t).\n\n{likelihood_table(results)}\n\n"
            f"### Content and motion, judged\n\nOne judge per factor (softmax regression on pixel features, "
            f"`vaekit.kinds.videos.measures`), trained on the training videos in {results['judge_seconds']:.0f} s; "
            "each swap pairs a test video with the next one in the draw.\n\n" + swap_table(results["swaps"]))


SMOKE = {"epochs": 1, "max_minutes": 0.0, "k": 4, "eval_limit": 16}
SMOKE_DATA = {"subset": 120, "frames": 4, "image_size": 16}
SMOKE_MODEL = {"channels_base": 4, "latent_dim": 2, "static_dim": 4, "rnn_hidden": 16}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="moving-shapes", choices=sorted(FACTORS), help="default: moving-shapes")
    p.add_argument("--max-minutes", type=float, default=5.0, help="training budget of each model (default: 5)")
    p.add_argument("--epochs", type=int, default=200, help="the most epochs a model trains (default: 200)")
    p.add_argument("--k", type=int, default=0, help="importance samples of log p(x) (default: 0 = the kind's "
                   "eval_k, 500 for videos)")
    p.add_argument("--eval-limit", type=int, default=512, help="random test videos measured (0 = all; default 512)")
    add_output_args(p, "docs/video_results.md", "tiny videos, 1 epoch of small models, k = 4")
    return parse_with_smoke(p, argv, SMOKE, "docs/video_results.md")


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    return run_and_write(args, argv, run_all, section, "videos.py", args.data == "moving-mnist",
                         f"video-results-{args.data}", DOC)


if __name__ == "__main__":
    main()
