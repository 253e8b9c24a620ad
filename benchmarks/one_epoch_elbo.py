"""Did the speed work change the results? The reference model's test ELBO after a fixed number of epochs.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/one_epoch_elbo.py          # ~2 minutes here

Trains the reference model (MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam 1e-3) for
`--epochs` epochs with each seed, then evaluates the test ELBO (k = 1, all 10k test images, the fixed
binarization of `evaluate`). Prints one row of the table in docs/benchmarks.md ("Results unchanged by
the speed techniques"); the seed-to-seed spread is the noise a change must stay within.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import vaekit
from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
from vaekit.evaluation import evaluate
from vaekit.kinds import load_split


def elbo_after_training(seed: int, epochs: int) -> float:
    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(),
                 TrainConfig(epochs=epochs, batch_size=128, lr=1e-3, seed=seed, progress=False, report=False))
    with tempfile.TemporaryDirectory() as tmp:
        run = vaekit.train(cfg, out=Path(tmp) / "run")
    return evaluate(run.model, load_split(cfg.data, "test"), k=1, progress=False)["elbo"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=1, help="training epochs per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds")
    args = p.parse_args()
    elbos = [elbo_after_training(s, args.epochs) for s in args.seeds]
    print("| " + " | ".join(f"{e:.2f}" for e in elbos) + f" | {statistics.mean(elbos):.2f} |")


if __name__ == "__main__":
    main()
