"""Sentence VAEs on Yelp: the language model, the VAE with the same decoder, the VAE with each remedy for
posterior collapse, and a conditional VAE's sentiment conversion, all on the test split.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/texts.py --write               # --max-minutes a model
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/texts.py --max-minutes 0.5 --train-subset 5000 \
        --val-subset 1000 --eval-limit 300 --k 50 --convert-limit 300                     # a look: minutes
    .venv/bin/python benchmarks/texts.py --smoke                                          # text-shapes, seconds

Every model has vaekit's default sentence networks (embedding 128, LSTM 256, z 32, batch 32) and the same
budget, --max-minutes of training (--epochs is only an upper bound). A remedy is a set of config overrides
(`remedies`): KL warm-up (Bowman et al. 2016), word dropout (Bowman et al. 2016, sec. 3.3), free bits per
latent dimension (Kingma et al. 2016) and aggressive inference-network training (He et al. 2019). Each model
is evaluated on the test split: NLL by importance sampling (k = 500, as He et al. 2019), nats/token and
perplexity (<eos> counted), ELBO, KL, mutual information I(x; z), active units. The conditional VAE converts
test sentences to the other sentiment, measured by `vaekit.kinds.texts.measures.conversion_measures`
(transfer accuracy, BLEU, perplexity under the LM).
The table goes to docs/text_results.md (--write).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch
from docsection import write_section

from vaekit.data import random_items

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "text_results.md"
SECTION = "text-results"


def remedies(args: argparse.Namespace) -> dict[str, tuple[str, dict]]:
    """key -> (the table's label, config overrides on top of the shared base config)."""
    return {
        "lm": ("LSTM language model", {"model": {"arch": "lm"}}),
        "vae": ("VAE", {}),
        "warmup": (f"VAE + KL warm-up ({args.warmup_steps:,} steps)", {"train": {"warmup_steps": args.warmup_steps}}),
        "word-dropout": (f"VAE + word dropout {args.word_dropout}", {"model": {"word_dropout": args.word_dropout}}),
        "free-bits": (f"VAE + free bits λ = {args.free_bits}", {"train": {"free_bits": args.free_bits}}),
        # He et al. anneal the KL weight in every model they train, the aggressive one included (sec. 6.1)
        "aggressive": (f"VAE + aggressive training (He et al. 2019) + KL warm-up ({args.warmup_steps:,} steps)",
                       {"train": {"aggressive": True, "warmup_steps": args.warmup_steps}}),
        "cvae": ("conditional VAE (given the label)", {"model": {"conditional": True}}),
        "cvae-word-dropout": (f"conditional VAE + word dropout {args.word_dropout} + KL warm-up",
                              {"model": {"conditional": True, "word_dropout": args.word_dropout},
                               "train": {"warmup_steps": args.warmup_steps}}),
        "cvae-beta": (f"conditional VAE, β = {args.cvae_beta} + word dropout {args.cvae_word_dropout}",
                      {"model": {"conditional": True, "word_dropout": args.cvae_word_dropout},
                       "train": {"beta": args.cvae_beta}}),
    }


def base_config(args: argparse.Namespace) -> dict:
    data: dict[str, Any] = {"dataset": args.data}
    if args.data == "text-shapes":
        data["subset"] = args.subset
    model = {"embed_dim": args.embed_dim, "rnn_hidden": args.rnn_hidden, "latent_dim": args.latent_dim}
    train = {"epochs": args.epochs, "max_minutes": args.max_minutes, "batch_size": args.batch_size,
             "seed": args.seed, "progress": False, "report": False}
    return {"data": data, "model": model, "train": train}


def merged(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for section, values in overrides.items():
        out.setdefault(section, {}).update(values)
    return out


def train_model(cfg: Any, out: Path, subset: int, val_subset: int, seed: int) -> Any:
    """Train through `vaekit.api.train`, or on random subsets of the training and validation splits (the
    same loop, its data replaced before the first step; the vocabulary stays the whole training split's)."""
    from vaekit.api import train

    if not subset and not val_subset:
        return train(cfg, out=out, callbacks=[])
    from vaekit.runs import load_run
    from vaekit.runs.lock import RunLock
    from vaekit.training.loop import Trainer

    trainer = Trainer(cfg, out)
    trainer.train_data = random_items(trainer.train_data, subset or None, seed)
    trainer.val_data = random_items(trainer.val_data, val_subset or None, seed)
    trainer.steps_per_epoch = math.ceil(len(trainer.train_data) / cfg.train.batch_size)
    with RunLock(out):
        trainer.open(resume=False)
        trainer.fit()
    return load_run(out, "best")


def evaluate_run(run: Any, test: Any, args: argparse.Namespace, minutes: float) -> dict:
    """The test figures of one model (per sentence in nats unless named per token)."""
    from vaekit.evaluation import evaluate

    start = time.perf_counter()
    res = evaluate(run.model, test, k=args.k, progress=False, seed=args.seed)
    eval_minutes = (time.perf_counter() - start) / 60
    epochs = max((r.get("epoch", 0) for r in run.metrics if r.get("kind") == "epoch"), default=0)
    row = {"nll": res["nll"], "nats_per_token": res["nats_per_token"], "perplexity": res["perplexity"],
           "elbo": res["elbo"], "kl": sum(res["kl_per_dim"]), "active_units": res["active_units"],
           "latent_dim": res["latent_dim"], "train_minutes": minutes, "eval_minutes": eval_minutes,
           "epochs": epochs, "n": res["n"]}
    if "mutual_information" in res:
        row["mutual_information"] = res["mutual_information"]
    return row


def run_all(args: argparse.Namespace, root: Path) -> dict:
    """Train and evaluate every model; the conditional VAEs' conversions last, once the LM exists."""
    from vaekit.config import Config
    from vaekit.kinds import kind_of

    base, results, runs = base_config(args), {}, {}
    for key, (label, overrides) in remedies(args).items():
        if args.only and key not in args.only:
            continue
        cfg = Config.from_dict(merged(base, overrides), source=f"benchmark model {key}")
        start = time.perf_counter()
        runs[key] = train_model(cfg, root / key, args.train_subset, args.val_subset, args.seed)
        minutes = (time.perf_counter() - start) / 60
        test = random_items(kind_of(cfg.data.dataset).load_split(cfg.data, "test", runs[key].data_stats),
                            args.eval_limit or None, args.seed)
        results[key] = {"label": label, "overrides": overrides, **evaluate_run(runs[key], test, args, minutes)}
        print(json.dumps({key: results[key]}), flush=True)
    conditional = [key for key, run in runs.items() if run.config.model.conditional]
    if conditional and "lm" in runs:
        classifier = sentiment_classifier(runs[conditional[0]].config.data)
        results["conversions"] = {key: {"label": results[key]["label"],
                                        **conversion(runs[key], runs["lm"], classifier, args)}
                                  for key in conditional}
    return results


def sentiment_classifier(cfg: Any) -> dict:
    """The judge of the conversions, trained on the whole training split, and its accuracy on the whole test
    split."""
    from vaekit.kinds.texts import read_split
    from vaekit.kinds.texts.measures import BagOfNgrams

    train = read_split(cfg, "train")
    start = time.perf_counter()
    classifier = BagOfNgrams.fit(train.tokens, torch.tensor(train.labels))
    seconds = time.perf_counter() - start
    whole = read_split(cfg, "test")
    return {"classifier": classifier, "classifier_seconds": seconds,
            "classifier_features": len(classifier.features), "test_sentences": len(whole.tokens),
            "classifier_test_accuracy": 100 * classifier.accuracy(whole.tokens, torch.tensor(whole.labels))}


def conversion(cvae: Any, lm: Any, judge: dict, args: argparse.Namespace) -> dict:
    """The conditional VAE converts --convert-limit random test sentences, each to the next class (for two:
    the other sentiment), judged by `judge` (`sentiment_classifier`)."""
    from vaekit.kinds import kind_of
    from vaekit.kinds.texts.measures import conversion_measures

    cfg = cvae.config.data
    test = random_items(kind_of(cfg.dataset).load_split(cfg, "test", cvae.data_stats), args.convert_limit or None,
                        args.seed)
    res = conversion_measures(cvae, judge["classifier"], lm, test, beam=args.beam)
    # the same sentences decoded with their own class: how much of a sentence z holds, the most a
    # conversion can keep
    own = conversion_measures(cvae, judge["classifier"], lm, test, target=test.labels.clone(), beam=args.beam)
    return {**res, "reconstruction_bleu": own["bleu"], **{k: v for k, v in judge.items() if k != "classifier"},
            "decoding": f"beam {args.beam}" if args.beam else "greedy"}


def table(results: dict) -> str:
    """One row per model: test NLL (nats/sentence), nats/token, PPL, ELBO, KL, MI (when reported), AU."""
    models = [r for key, r in results.items() if key != "conversions"]
    mi = any("mutual_information" in r for r in models)
    head = ["model", "NLL", "nats/token", "PPL", "−ELBO", "KL", *(["MI"] if mi else []), "AU", "epochs",
            "training min", "evaluation min"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in models:
        cells = [r["label"], f"{r['nll']:.2f}", f"{r['nats_per_token']:.3f}", f"{r['perplexity']:.1f}",
                 f"{-r['elbo']:.2f}", f"{r['kl']:.2f}", *([f"{r.get('mutual_information', float('nan')):.2f}"]
                                                         if mi else []),
                 f"{r['active_units']} / {r['latent_dim']}", str(r["epochs"]), f"{r['train_minutes']:.2f}",
                 f"{r['eval_minutes']:.2f}" if "eval_minutes" in r else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def conversion_table(conversions: dict) -> str:
    """One column per conditional VAE: transfer accuracy, BLEU against the source, perplexity under the LM, each
    beside its reference; then each model's first conversions."""
    cs = list(conversions.values())
    first = cs[0]
    rows = [("transfer accuracy", [f"{c['transfer_accuracy']:.1f} %" for c in cs],
             f"the classifier on the real test sentences: {first['classifier_test_accuracy']:.1f} %"),
            ("BLEU-4 against the source", [f"{c['bleu']:.1f}" for c in cs], "100 = the input copied"),
            ("perplexity under the LM", [f"{c['perplexity']:.1f}" for c in cs],
             f"the source sentences': {first['source_perplexity']:.1f}")]
    if all("reconstruction_bleu" in c for c in cs):
        rows.append(("BLEU-4 of the reconstructions (own class)", [f"{c['reconstruction_bleu']:.1f}" for c in cs],
                     "what z keeps of a sentence: the most a conversion can keep"))
    lines = ["| measure | " + " | ".join(c["label"] for c in cs) + " | reference |", "|---|" + "---|" * (len(cs) + 1)]
    lines += [f"| {name} | " + " | ".join(cells) + f" | {ref} |" for name, cells, ref in rows]
    for c in cs:
        lines.append(f"\n{c['label']}, first conversions (source → output):\n")
        lines += [f"- {src} → {out}" for src, out in c["examples"][:3]]
    return "\n".join(lines)


def section(results: dict, args: argparse.Namespace, command: str) -> str:
    from throughput import machine

    n = next(r["n"] for key, r in results.items() if key != "conversions")
    budget = f"{args.max_minutes:g} minutes of training each" if args.max_minutes else f"{args.epochs} epochs each"
    models = ", ".join(args.only) if args.only else "language model, VAE, remedies"
    text = (f"## {args.data}: {models}\n\nCommand: `{command}`  \nMachine: {machine()}; "
            f"date {date.today()}.  \n{budget} (at most {args.epochs} epochs), "
            + (f"on {args.train_subset:,} random training sentences" if args.train_subset else "on the whole "
               "training split") + f"; test figures on {n:,} test sentences, NLL by importance sampling with k = "
            f"{args.k}, in nats per sentence; nats/token and PPL count each sentence's <eos>. KL is the test "
            "mean of KL(q(z|x) || p(z)); AU counts the active units of z (Burda et al. 2015).\n\n"
            + table(results))
    conversions = results.get("conversions")
    if conversions:
        c = next(iter(conversions.values()))
        text += (f"\n\n### Conversion by the conditional VAEs\n\n{c['n']:,} random test sentences, each to the "
                 f"next class ({c['decoding']} decoding); the classifier is logistic regression on tf-idf "
                 f"unigrams and bigrams ({c['classifier_features']:,} features) trained on the training split "
                 f"in {c['classifier_seconds']:.0f} s.\n\n" + conversion_table(conversions))
    return text


SMOKE = {"data": "text-shapes", "subset": 600, "epochs": 2, "max_minutes": 0.0, "embed_dim": 16, "rnn_hidden": 32,
         "latent_dim": 4, "k": 5, "warmup_steps": 20, "train_subset": 400, "val_subset": 40}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="yelp", help="a labelled sentence data set (default: yelp)")
    p.add_argument("--subset", type=int, default=3000, help="text-shapes: sentences drawn (default: 3,000)")
    p.add_argument("--max-minutes", type=float, default=20.0, help="training budget of each model (default: 20)")
    p.add_argument("--epochs", type=int, default=100, help="the most epochs a model trains (default: 100)")
    p.add_argument("--train-subset", type=int, default=0, help="train on this many random training sentences "
                   "(default: 0 = all)")
    p.add_argument("--val-subset", type=int, default=0, help="validate each epoch on this many random validation "
                   "sentences (default: 0 = all)")
    p.add_argument("--eval-limit", type=int, default=0, help="random test sentences evaluated (default: 0 = all)")
    p.add_argument("--convert-limit", type=int, default=2000, help="random test sentences converted (default: 2,000)")
    p.add_argument("--k", type=int, default=500, help="importance samples of the test NLL (default: 500)")
    p.add_argument("--beam", type=int, default=0, help="conversion by beam search of this width (default: 0 = greedy)")
    p.add_argument("--embed-dim", type=int, default=128)
    p.add_argument("--rnn-hidden", type=int, default=256)
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--warmup-steps", type=int, default=10_000, help="KL warm-up remedy: steps from 0 to 1 "
                   "(default: 10,000; a shorter run ends its warm-up with it)")
    p.add_argument("--word-dropout", type=float, default=0.5, help="word dropout remedy (default: 0.5)")
    p.add_argument("--free-bits", type=float, default=0.5, help="free bits remedy: nats per latent dimension "
                   "(default: 0.5)")
    p.add_argument("--cvae-beta", type=float, default=0.05, help="cvae-beta: the KL weight of a conditional VAE "
                   "whose z must hold the sentence for a conversion to keep it (default: 0.05)")
    p.add_argument("--cvae-word-dropout", type=float, default=0.3, help="cvae-beta: its word dropout (default: 0.3)")
    p.add_argument("--only", type=lambda s: s.split(","), default=None,
                   help="a comma list of models: lm, vae, warmup, word-dropout, free-bits, aggressive, cvae, "
                   "cvae-word-dropout, cvae-beta")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs", type=Path, default=None, help="a new folder for the run folders (default: a "
                   "temporary folder, removed at the end)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    p.add_argument("--smoke", action="store_true", help="text-shapes, 2 epochs of small models, k = 5: seconds")
    p.add_argument("--write", action="store_true", help="write the section of --doc")
    p.add_argument("--section", default=SECTION, help=f"the marked section of the page --write replaces (default: "
                   f"{SECTION}; another name adds a section, e.g. for an --only run beside the full table)")
    p.add_argument("--doc", type=Path, default=None, help="the page --write updates (default: docs/text_results.md;"
                   " --smoke writes only to a --doc given)")
    args = p.parse_args(argv)
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    if args.smoke and args.write and args.doc is None:
        p.error("--smoke --write needs an explicit --doc: smoke figures never go to docs/text_results.md")
    return args


def main(argv: list[str] | None = None) -> dict:
    import sys

    args = parse(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.runs or Path(tmp)
        results = run_all(args, root)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    data = "VAEKIT_DATA=../shared/data " if args.data == "yelp" else ""
    command = f"{data}.venv/bin/python benchmarks/texts.py " + " ".join(sys.argv[1:] if argv is None else argv)
    text = section(results, args, command)
    print(text)
    if args.write:
        write_section(args.section, text, args.doc or DOC)
    return results


if __name__ == "__main__":
    main()
