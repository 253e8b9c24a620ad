"""What each speed measure of the training step brings, on the reference model, in interleaved epochs of one
process: the A/B behind every measure that `vaekit.fast` keeps.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/step_paths.py --write      # ~3 minutes on 2 cores

- plain: the compiled objective, `loss.backward()`, the gradient norm, `opt.step()` (what DDP runs);
- fast: `vaekit.fast.FastStep`, as `vaekit train` runs on one process: forward, backward, norm and
  finiteness check in one compiled graph, Adam's fused kernel called directly, dynamically binarized
  batches drawn inside the graph;
- fast without one measure: `opt.step()` instead of Adam's kernel called directly (private
  `torch._fused_adam_`); all of dynamo's guards instead of the tensor guards (`guard_filter_fn`);
  binarized tensors instead of batches drawn in the graph.

Every arm trains the reference model (MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam
1e-3) from the same initial weights on the first `--images` MNIST training images. Each round runs one
epoch of every arm (and measures the matmul roofline), so that the host's load falls on all alike; the
figures are medians over rounds, after one warm-up epoch each, and each ratio is the median of the
rounds' own ratios.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from datetime import date
from pathlib import Path

import torch
from docsection import write_section
from throughput import B, cpu_name, roofline_step_seconds

from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.fast import denormals
from vaekit.fast.compiling import CompiledOrEager, sampling_options
from vaekit.fast.functional import FunctionalGradients, step_options
from vaekit.runs.metrics import NullLog
from vaekit.training.distributed import DistEnv
from vaekit.training.loop import Trainer
from vaekit.training.step import PlainStep

ARMS = ("plain", "fast", "fast, opt.step()", "fast, all guards", "fast, binarized tensors")


def trainer(images: int, arm: str, tmp: Path) -> Trainer:
    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(),
                 TrainConfig(epochs=1, batch_size=B, lr=1e-3, progress=False))
    torch.manual_seed(0)
    t = Trainer(cfg, tmp / arm.replace(" ", "_").replace(",", ""))
    t.open(resume=False)
    t.train_data, t.steps_per_epoch = t.train_data.take(images), -(-images // B)
    fast = t.step
    module = fast.plain.objective
    if arm == "plain":
        compiled = CompiledOrEager(module, options=sampling_options())
        t.step = PlainStep(module, t.params, t.opt, 0.0, DistEnv(), t.device, compiled, full=B)
    elif arm == "fast, opt.step()":
        fast.update = fast.update._plain_step
    elif arm == "fast, all guards":
        options = {k: v for k, v in step_options().items() if k != "guard_filter_fn"}
        fast.gradients = FunctionalGradients(module, t.params, options=options)
    elif arm == "fast, binarized tensors":
        fast.batches = fast.plain.batches
    return t


def measure(images: int, rounds: int) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {name: [] for name in (*ARMS, "roofline")}
    with tempfile.TemporaryDirectory() as tmp, denormals.flush_denormals(True):
        arms = {name: trainer(images, name, Path(tmp)) for name in ARMS}
        for t in arms.values():
            t.run_epoch(1, NullLog())  # warm-up, compilation included
        for r in range(rounds):
            res["roofline"].append(B / roofline_step_seconds(repeats=1, iters=100))
            for name, t in arms.items():
                res[name].append(t.run_epoch(r + 2, NullLog())["images_per_s"])
    return res


def table(res: dict[str, list[float]], args: argparse.Namespace) -> str:
    med = {k: statistics.median(v) for k, v in res.items()}
    rows = ["| arm | images/s, median | of the roofline | fast ÷ arm, median of rounds | fast faster in |",
            "|---|---|---|---|---|"]
    for name in ARMS:
        ratios = [f / a for f, a in zip(res["fast"], res[name], strict=True)]
        wins = sum(r > 1 for r in ratios)
        gain = "" if name == "fast" else f"{statistics.median(ratios):.3f}×"
        rows.append(f"| {name} | {med[name]:,.0f} | {med[name] / med['roofline']:.0%} | {gain} | "
                    f"{'' if name == 'fast' else f'{wins} of {len(ratios)}'} |")
    rows.append(f"| matmul roofline | {med['roofline']:,.0f} | | | |")
    return (f"Command: `VAEKIT_DATA=../shared/data .venv/bin/python "
            f"benchmarks/step_paths.py --write`  \nMachine: {cpu_name()}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}, Python {platform.python_version()}; date {date.today()}.  \n"
            f"{args.rounds} interleaved rounds of one epoch of {args.images:,} training images per arm.\n\n"
            + "\n".join(rows) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20_000, help="training images per epoch")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (one epoch of each arm)")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    text = table(measure(args.images, args.rounds), args)
    print(text)
    if args.write:
        write_section("step-paths", text)


if __name__ == "__main__":
    main()
