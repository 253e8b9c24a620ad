"""The training step's two paths on the reference model, in interleaved epochs of one process.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/step_paths.py --write      # ~1 minute here

- plain: the compiled objective, `loss.backward()`, the gradient norm, `opt.step()` (what DDP runs, and
  an epoch's last, smaller batch);
- compiled step: forward, backward, norm and finiteness check in one compiled graph, then Adam's
  fused kernel called directly (`vaekit.training.step`), as `vaekit train` runs on one process.

Both train the reference model (MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam 1e-3)
from the same initial weights on the first `--images` MNIST training images. The rounds alternate the
two (and measure the matmul roofline between them), so that the host's load falls on both alike; the
figures are medians over rounds, after one warm-up epoch each.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from datetime import date
from pathlib import Path

from docsection import write_section
from throughput import B, machine, roofline_step_seconds

from vaekit import denormals
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.training.loop import Trainer
from vaekit.training.metrics import NullLog


def trainer(images: int, compiled_step: bool, tmp: Path) -> Trainer:
    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(),
                 TrainConfig(epochs=1, batch_size=B, lr=1e-3, progress=False))
    t = Trainer(cfg, tmp / ("compiled" if compiled_step else "plain"))
    t.open(resume=False)
    t.train_data, t.steps_per_epoch = t.train_data.take(images), -(-images // B)
    if not compiled_step:
        t.functional = None  # the plain path: train_step falls back to loss.backward() and opt.step()
    return t


def measure(images: int, rounds: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {"plain": [], "compiled step": [], "roofline": []}
    with tempfile.TemporaryDirectory() as tmp, denormals.flush_denormals(True):
        arms = {"plain": trainer(images, False, Path(tmp)), "compiled step": trainer(images, True, Path(tmp))}
        for t in arms.values():
            t.run_epoch(1, NullLog())  # warm-up, compilation included
        for r in range(rounds):
            res["roofline"].append(B / roofline_step_seconds(repeats=1, iters=100))
            for name, t in arms.items():
                res[name].append(t.run_epoch(r + 2, NullLog())["images_per_s"])
    return res


def table(res: dict[str, list[float]], args: argparse.Namespace) -> str:
    med = {k: statistics.median(v) for k, v in res.items()}
    rows = ["| path | images/s, median | per round | of the roofline |", "|---|---|---|---|"]
    for name in ("plain", "compiled step", "roofline"):
        share = "" if name == "roofline" else f"{med[name] / med['roofline']:.0%}"
        rows.append(f"| {name} | {med[name]:,.0f} | {', '.join(f'{v:,.0f}' for v in res[name])} | {share} |")
    wins = sum(c > p for c, p in zip(res["compiled step"], res["plain"], strict=True))
    return (f"Command: `VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/step_paths.py --write`  \n"
            f"Machine: {machine()}; date {date.today()}.  \n"
            f"{args.rounds} interleaved rounds of one epoch of {args.images:,} training images each.\n\n"
            + "\n".join(rows) + f"\n\nThe compiled step is {med['compiled step'] / med['plain']:.2f}× the plain "
            f"path (medians), faster in {wins} of {args.rounds} rounds.")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20_000, help="training images per epoch")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds (one epoch of each path)")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    text = table(measure(args.images, args.rounds), args)
    print(text)
    if args.write:
        write_section("step-paths", text)


if __name__ == "__main__":
    main()
