"""Whole-process wall time of `vaekit train`, compiled, eager and auto, from subprocess start to exit.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/end_to_end.py --write      # ~30 minutes on 2 cores
    .venv/bin/python benchmarks/end_to_end.py --smoke         # seconds: a tiny model, eager and auto, 1 epoch

Reference model: MLP 784-400-20, Bernoulli, dynamically binarized MNIST, batch 128 (benchmarks/throughput.py),
for 1, 3, 10 and 30 epochs. A round runs every (epochs, mode) once, the modes interleaved so that the host's
slow and fast spells fall on all of them; a figure is the median of the rounds. The compile cache
(`VAEKIT_COMPILE_CACHE`) is a fresh folder for the benchmark, filled by an untimed 1-epoch `--compile on`
run before the rounds; the "cold" and "fresh" columns time `--compile on` and `--compile auto` once per
length, each in an empty folder of its own (a machine that never compiled the graph). Every run gets
`--no-report --grid 16`: the report and the pictures are the same work in every mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from docsection import write_section

ROOT = Path(__file__).resolve().parents[1]
VAEKIT = [sys.executable, "-m", "vaekit"]
MODES = {"compiled": "on", "eager": "off", "auto": "auto"}
EPOCHS = (1, 3, 10, 30)


def train_command(out: Path, epochs: int, mode: str, data: str, smoke: bool) -> list[str]:
    data_flags = ["--data", "mnist", "--binarize", "dynamic"] if data == "mnist" else ["--data", "shapes"]
    if smoke:
        data_flags += ["--subset", "2000", "--hidden", "64", "--latent-dim", "4", "--image-size", "16"]
    return [*VAEKIT, "train", *data_flags, "--epochs", str(epochs), "--batch-size", "128", "--compile", mode,
            "--out", str(out), "--no-progress", "--no-report", "--grid", "16"]


def timed_run(cmd: list[str], cache: Path) -> tuple[float, str]:
    """Seconds from the subprocess's start to its exit, and the auto decision's line (if any)."""
    env = {**os.environ, "VAEKIT_COMPILE_CACHE": str(cache), "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor")}
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    said = next((ln for ln in done.stdout.splitlines() if ln.startswith(("eager:", "compiling the training"))), "")
    return seconds, said


def measure(args: argparse.Namespace) -> dict:
    """Rounds of every (epochs, mode) in one shared cache, after one cold `--compile on` and one auto run
    with an empty cache per length."""
    res: dict = {"times": {}, "cold": {}, "fresh": {}, "decisions": {}, "fresh_decisions": {}}
    with tempfile.TemporaryDirectory() as tmp:
        shared = Path(tmp) / "cache"
        for epochs in args.epochs if "compiled" in args.modes else ():
            cold = Path(tmp) / f"cold-{epochs}"
            res["cold"][epochs], _ = timed_run(train_command(cold / "run", epochs, "on", args.data, args.smoke), cold)
            fresh = Path(tmp) / f"fresh-{epochs}"  # auto on a machine that never compiled this graph
            res["fresh"][epochs], said = timed_run(train_command(fresh / "run", epochs, "auto", args.data, args.smoke),
                                                   fresh)
            res["fresh_decisions"][str(epochs)] = said
        if "compiled" in args.modes:  # untimed: fills the shared cache, so that every timed run finds it warm
            timed_run(train_command(Path(tmp) / "warm-up", 1, "on", args.data, args.smoke), shared)
        for r in range(args.rounds):
            for epochs in args.epochs:
                modes = [(name, MODES[name]) for name in args.modes]
                modes = modes[r % len(modes):] + modes[:r % len(modes)]  # each mode leads a round in turn
                for name, mode in modes:
                    out = Path(tmp) / f"run-{r}-{epochs}-{name}"
                    seconds, said = timed_run(train_command(out, epochs, mode, args.data, args.smoke), shared)
                    res["times"].setdefault(f"{epochs}/{name}", []).append(seconds)
                    if said:
                        res["decisions"].setdefault(str(epochs), said)
                    print(f"round {r + 1} {epochs:>2} epochs {name:>8}: {seconds:6.1f} s  {said}", flush=True)
    return res


def table(args: argparse.Namespace, res: dict) -> str:
    import torch

    med = {k: statistics.median(v) for k, v in res["times"].items()}
    lines = [f"Command: `VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/end_to_end.py --rounds {args.rounds} "
             f"--write`  ",
             f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{torch.backends.cpu.get_cpu_capability()}; torch {torch.__version__}, Python "
             f"{platform.python_version()}; date {date.today().isoformat()}.  ",
             f"Whole `vaekit train` processes (start to exit), {args.data}, median of {args.rounds} interleaved "
             "rounds in one compile cache, filled by an untimed 1-epoch `--compile on` run first (warm: "
             "auto decides with what that run recorded); cold: `--compile on`, fresh: `--compile auto`, each "
             "once with an empty cache.", "",
             "| epochs | eager | compiled, warm | auto, warm | auto ÷ eager | compiled, cold | auto, fresh | "
             "auto decided (warm / fresh) |",
             "|---|---|---|---|---|---|---|---|"]
    def s(v: float | None) -> str:
        return "–" if v is None else f"{v:.1f} s"

    for e in args.epochs:
        eager, comp, auto = (med.get(f"{e}/{m}") for m in ("eager", "compiled", "auto"))
        ratio = f"{auto / eager:.2f}×" if auto and eager else "–"
        said = " / ".join(filter(None, (res["decisions"].get(str(e)), res["fresh_decisions"].get(str(e)))))
        lines.append(f"| {e} | {s(eager)} | {s(comp)} | {s(auto)} | {ratio} | {s(res['cold'].get(e))} | "
                     f"{s(res['fresh'].get(e))} | {said} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=lambda s: [int(v) for v in s.split(",")], default=list(EPOCHS),
                   help="comma-separated run lengths (default: 1,3,10,30)")
    p.add_argument("--data", choices=("mnist", "shapes"), default="mnist",
                   help="mnist (needs VAEKIT_DATA) or the built-in shapes")
    p.add_argument("--smoke", action="store_true", help="seconds: a tiny model on 2,000 shapes, 1 epoch, 1 round, "
                   "eager and auto (which stays eager) only")
    p.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    p.add_argument("--json", type=Path, help="also write the raw timings here")
    args = p.parse_args()
    args.modes = list(MODES)
    if args.smoke:  # no compilation: the cold one alone takes ~20 s
        args.rounds, args.epochs, args.data, args.modes = 1, [1], "shapes", ["eager", "auto"]
    if args.data == "mnist" and not (Path(os.environ.get("VAEKIT_DATA", "")) / "mnist").is_dir():
        raise SystemExit("MNIST not found: set VAEKIT_DATA to a folder holding mnist/, or pass --data shapes")
    res = measure(args)
    text = table(args, res)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    if args.write and not args.smoke:
        write_section("end-to-end", text)


if __name__ == "__main__":
    main()
