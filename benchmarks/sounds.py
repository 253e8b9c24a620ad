"""Sound VAEs on spoken digits: the VAE, a conditional VAE on the digit and one on the speaker, with the same
training budget, evaluated on the test split as densities, as reconstructions and by judges of what they say.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/sounds.py --write        # --max-minutes a model
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/sounds.py --max-minutes 1 --k 100 --eval-limit 64
    .venv/bin/python benchmarks/sounds.py --smoke                                   # tones, seconds

Every model has the sound kind's default network (conv, Gaussian p(x|z) with one learned σ, z of 32) and the
same budget, --max-minutes of training (--epochs is only an upper bound). On --eval-limit random test clips
(the same for every model) each model gets: log p(x) by importance sampling (k = the kind's eval_k unless
--k), in nats per clip and per time-frequency bin, ELBO, KL and active units; the quality of its
reconstructions (log-spectral distance, spectral convergence, multi-resolution STFT distance) beside the
Griffin-Lim floor (the true log-mel inverted); and the judges' verdicts (`sound_judging`): the digit judge on
reconstructions, on the digit-conditional model's samples and conversions to another digit; the speaker
judge on the speaker-conditional model's conversions to training speakers' voices. On `tones` the
conditional model is on the pitch and there is no speaker model. The page is docs/sound_results.md (--write).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path
from typing import Any

import sound_judging as sj
import torch
from results_cli import add_output_args, likelihood, parse_with_smoke, run_and_write, train_settings
from texts import merged

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "sound_results.md"
SECTION = "sound-results"


def models(args: argparse.Namespace) -> dict[str, tuple[str, dict]]:
    """key -> (the tables' label, config overrides on top of the shared base config)."""
    content = sj.CONTENT[args.data]
    out = {"vae": ("VAE", {}),
           "cvae": (f"conditional VAE on the {content}", {"model": {"conditional": True}})}
    if args.data == "spoken-digits":
        beta = f", β = {args.speaker_beta:g}" if args.speaker_beta != 1.0 else ""
        out["cvae-speaker"] = (f"conditional VAE on the speaker{beta}",
                               {"model": {"conditional": True}, "data": {"audio_label": "speaker"},
                                "train": {"beta": args.speaker_beta}})
    unknown = set(args.only or ()) - set(out)
    if unknown:
        raise SystemExit(f"--only: no model {', '.join(sorted(unknown))} on {args.data} (models: {', '.join(out)})")
    return {k: v for k, v in out.items() if not args.only or k in args.only}


def base_config(args: argparse.Namespace) -> dict:
    data: dict[str, Any] = {"dataset": args.data, **SMOKE_DATA} if args.smoke else {"dataset": args.data}
    model = dict(SMOKE_MODEL) if args.smoke else {}
    train = train_settings(args)
    return {"data": data, "model": model, "train": train}


def test_clips(run: Any, args: argparse.Namespace) -> tuple[Any, torch.Tensor, Any]:
    """The --eval-limit random test items of a run (the same clips for every model), their positions in the
    test split and the whole split's clips, cut to the run's clip length."""
    from vaekit.data import TensorData, random_items
    from vaekit.kinds import kind_of
    from vaekit.kinds.sounds.corpus import read_clips

    cfg = run.config.data
    items = kind_of(cfg.dataset).load_split(cfg, "test", run.data_stats)
    idx = random_items(TensorData(torch.arange(len(items))), args.eval_limit or None, args.seed).x  # (n,)
    clips = read_clips(cfg, "test")
    clips.waves = clips.waves[:, :run.data_stats["clip_samples"]]  # (N, S): the items' samples
    return items.select(idx), idx, clips


def trained(cfg: Any, out: Path, reuse: bool) -> tuple[Any, float]:
    """The model trained into `out`, and its minutes of training; with `reuse`, a finished run already there
    is loaded instead (its training minutes summed from its metrics)."""
    from vaekit.api import train
    from vaekit.runs import load_run

    if reuse and (out / "config.json").exists():
        run = load_run(out, "best")
        return run, sum(r.get("train_seconds", 0.0) for r in run.metrics if r.get("kind") == "epoch") / 60
    start = time.perf_counter()
    run = train(cfg, out=out, callbacks=[])
    return run, (time.perf_counter() - start) / 60


def run_all(args: argparse.Namespace, root: Path) -> dict:
    """Train every model, then measure each on the same test clips; the Griffin-Lim floor and the judges'
    references once."""
    from vaekit.config import Config
    from vaekit.kinds.sounds.features import spec_from_stats
    from vaekit.kinds.sounds.measures import griffin_lim_floor

    base, results, shared = base_config(args), {}, {}
    for key, (label, overrides) in models(args).items():
        cfg = Config.from_dict(merged(base, overrides), source=f"benchmark model {key}")
        run, minutes = trained(cfg, root / key, args.reuse)
        test, idx, clips = test_clips(run, args)
        if not shared:  # the content labels and the floor come from the first (unconditional) model's split
            waves = clips.waves[idx]
            shared.update(judges=sj.judges(cfg.data), idx=idx, waves=waves,
                          content=sj.factor(test, sj.CONTENT[args.data]))
            _, floor = griffin_lim_floor(waves, spec_from_stats(run.data_stats),
                                         generator=torch.Generator().manual_seed(0))
            results["floor"] = floor
        results[key] = {"label": label, "overrides": overrides, "train_minutes": minutes,
                        **likelihood(run, test, args, "nats_per_bin"), **measure(key, run, test, clips, shared, args)}
        print(json.dumps({key: {k: v for k, v in results[key].items() if k != "judged"}}, default=str), flush=True)
    results["references"] = references(shared)
    return results


def measure(key: str, run: Any, test: Any, clips: Any, shared: dict, args: argparse.Namespace) -> dict:
    """What each model is judged on: reconstructions always; samples and conversions by the conditional
    models, each of its own label."""
    judges, waves, content, idx = shared["judges"], shared["waves"], shared["content"], shared["idx"]
    out = sj.reconstructions(run, test, waves, content, judges["content"])
    if key == "cvae":
        out["samples"] = sj.samples(run, args.samples_per_class, waves, content, judges["content"], args.seed)
        out["conversion"] = sj.digit_conversions(run, test, idx, clips, judges, args.seed)
    elif key == "cvae-speaker":
        out["conversion"] = sj.speaker_conversions(run, judges, args.seed)
    return out


def references(shared: dict) -> dict:
    """The judges' accuracy (%) on real clips: the content judge on the test clips, the speaker judge on the
    training speakers' held-out rendition; with chance and training seconds."""
    j = shared["judges"]
    out = {"content": 100 * j["content"].accuracy(shared["waves"], shared["content"]),
           "content_chance": 100 / j["content"].n_classes, "content_seconds": j["content_seconds"]}
    if "speaker" in j:
        out.update(speaker=100 * j["speaker"].accuracy(j["held_waves"], j["held_speakers"]),
                   speaker_chance=100 / len(j["train_speakers"]), speaker_seconds=j["speaker_seconds"],
                   held=len(j["held_waves"]), train_speakers=len(j["train_speakers"]))
    return out


def model_rows(results: dict) -> list[dict]:
    return [r for r in results.values() if isinstance(r, dict) and "label" in r]


def likelihood_table(results: dict) -> str:
    head = ["model", "−log p(x), nats/clip", "nats/bin", "−ELBO, nats/clip", "−ELBO, nats/bin", "KL", "AU", "epochs",
            "training min", "evaluation min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in model_rows(results):
        cells = [r["label"], f"{-r['log_likelihood']:,.1f}", f"{r['nats_per_bin']:.4f}", f"{-r['elbo']:,.1f}",
                 f"{r['elbo_nats_per_bin']:.4f}", f"{r['kl']:.1f}", f"{r['active_units']} / {r['latent_dim']}",
                 str(r["epochs"]), f"{r['train_minutes']:.2f}", f"{r['eval_minutes']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def quality_table(results: dict, content: str) -> str:
    """Reconstruction measures of each model beside the Griffin-Lim floor, and the content judge on them."""
    rows, floor, ref = model_rows(results), results["floor"], results["references"]
    measures = [("log-spectral distance, dB (active frames)", "lsd_db", "{:.2f}"),
                ("spectral convergence", "spectral_convergence", "{:.3f}"),
                ("multi-resolution STFT distance", "mr_stft", "{:.3f}")]
    lines = ["| measure | " + " | ".join(r["label"] for r in rows) + " | Griffin-Lim floor (true log-mel) |",
             "|---|" + "---|" * (len(rows) + 1)]
    for name, key, fmt in measures:
        lines.append(f"| {name} | " + " | ".join(fmt.format(r["quality"][key]) for r in rows)
                     + f" | {fmt.format(floor[key])} |")
    lines.append(f"| {content} judge's accuracy | " + " | ".join(f"{r['judged']['accuracy']:.1f} %" for r in rows)
                 + f" | real test clips: {ref['content']:.1f} % (chance {ref['content_chance']:.1f} %) |")
    return "\n".join(lines)


def judged_table(results: dict, content: str) -> str:
    """The conditional models' samples and conversions, each beside its reference."""
    ref, rows = results["references"], []
    real = f"real test clips: {ref['content']:.1f} %; chance {ref['content_chance']:.1f} %"
    if "cvae" in results:
        c = results["cvae"]
        rows += [(f"{content} judge on samples given their {content}", f"{c['samples']['accuracy']:.1f} %", real),
                 (f"conversion to another {content}: {content} judge's target accuracy",
                  f"{c['conversion']['target_accuracy']:.1f} %", real)]
        if "voice" in c["conversion"]:
            v = c["conversion"]["voice"]
            rows.append(("conversion to another digit: speaker judge names the source's voice",
                         f"{v['converted']:.1f} %", f"a real clip of the same speaker saying the target digit: "
                         f"{v['same_speaker']:.1f} %; of the next test speaker: {v['other_speaker']:.1f} %"))
    if "cvae-speaker" in results:
        c = results["cvae-speaker"]["conversion"]
        rows += [("a training speaker's held-out clip in another training voice: speaker judge's target accuracy",
                  f"{c['target_accuracy']:.1f} %", f"the held-out clips as they are: {ref['speaker']:.1f} %, "
                  f"as the model reconstructs them (decoded in their own voice): {c['reconstructed']:.1f} %; chance "
                  f"{c['chance']:.1f} % (1 / {ref['train_speakers'] - 1} other voices)"),
                 ("the same conversions: digit judge's accuracy that the digit stayed",
                  f"{c['word']['accuracy']:.1f} %",
                  f"the held-out clips as they are: {c['word']['real_accuracy']:.1f} %")]
    lines = ["| measure | figure | reference |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def section(results: dict, args: argparse.Namespace, command: str) -> str:
    from throughput import machine

    content, first = sj.CONTENT[args.data], model_rows(results)[0]
    budget = f"{args.max_minutes:g} minutes of training each" if args.max_minutes else f"{args.epochs} epochs each"
    ref = results["references"]
    speaker = (f" The speaker judge was trained on renditions 0–2 of the {ref['train_speakers']} training speakers "
               f"in {ref['speaker_seconds']:.0f} s and tested on their rendition 3 ({ref['held']} clips)."
               if "speaker" in ref else "")
    return (f"## {args.data}\n\nCommand: `{command}`  \nMachine: {machine()}; date {date.today()}.  \n{budget} (at "
            f"most {args.epochs} epochs); test figures on {first['n']:,} random test clips, log p(x) by importance "
            f"sampling with k = {first['k']}. KL is the test mean of KL(q(z|x) || p(z)); AU counts the active units "
            f"of z. A conditional model's figures are of log p(x | y).\n\n" + likelihood_table(results)
            + "\n\n### Reconstructions through Griffin-Lim\n\nEach model's reconstructions (the mean of p(x|z) at "
            "z = E q(z|x)) and the test clips' own log-mel spectrograms, inverted alike (mel inversion, 60 "
            f"Griffin-Lim iterations), against the true clips.\n\n{quality_table(results, content)}\n\n"
            f"### Samples and conversions, judged\n\nThe {content} judge was trained on the training clips in "
            f"{ref['content_seconds']:.0f} s.{speaker}\n\n" + judged_table(results, content))


SMOKE = {"data": "tones", "epochs": 2, "max_minutes": 0.0, "k": 5, "eval_limit": 24, "samples_per_class": 2}
SMOKE_DATA = {"subset": 240, "clip_seconds": 0.25, "sample_rate": 8000}
SMOKE_MODEL = {"channels_base": 8, "hidden": [32], "latent_dim": 4}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="spoken-digits", choices=sorted(sj.CONTENT), help="default: spoken-digits")
    p.add_argument("--max-minutes", type=float, default=5.0, help="training budget of each model (default: 5)")
    p.add_argument("--epochs", type=int, default=200, help="the most epochs a model trains (default: 200)")
    p.add_argument("--k", type=int, default=0, help="importance samples of log p(x) (default: 0 = the kind's "
                   "eval_k, 5,000 for sounds)")
    p.add_argument("--eval-limit", type=int, default=0, help="random test clips measured (default: 0 = all)")
    p.add_argument("--samples-per-class", type=int, default=10, help="samples of the conditional model judged, "
                   "per class (default: 10)")
    p.add_argument("--speaker-beta", type=float, default=1.0, help="the KL weight β of the speaker-conditional "
                   "model: above 1, z is pressed to leave the voice to the label (default: 1)")
    p.add_argument("--only", type=lambda s: s.split(","), default=None,
                   help="a comma list of the models to train and measure: vae, cvae, cvae-speaker")
    add_output_args(p, "docs/sound_results.md", "tones of 0.25 s at 8 kHz, 2 epochs of small models, k = 5")
    return parse_with_smoke(p, argv, SMOKE, "docs/sound_results.md")


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    return run_and_write(args, argv, run_all, section, "sounds.py", args.data == "spoken-digits", SECTION, DOC)


if __name__ == "__main__":
    main()
