"""What subnormal floats cost a long training run, and what flushing them to zero gives back.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/denormals.py runs/bench-best-cpu-1h --write

Takes a run folder with a checkpoint (ideally from late in a long run, when Adam's state holds the most
subnormals), counts the subnormals in its weights and optimizer state, and times training steps from that
same state with the flush off and on, in alternating rounds: every round restores the checkpoint's weights
and optimizer state first, so both arms start from identical numbers. A copy of the folder is used; the run
itself is not touched.
"""

from __future__ import annotations

import argparse
import copy
import platform
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from docsection import write_section


def count_subnormals(tensors: list[torch.Tensor]) -> tuple[int, int]:
    """(subnormal, total) elements of the float tensors, read from their bits (no float comparison)."""
    sub = total = 0
    for t in tensors:
        if t.dtype == torch.float32:
            b = t.contiguous().view(torch.int32)
            sub += int((((b >> 23) & 0xFF) == 0).logical_and_(b & 0x7FFFFF != 0).sum())  # exponent 0, mantissa not
            total += t.numel()
    return sub, total


def optimizer_tensors(opt: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [v for state in opt.state.values() for v in state.values() if torch.is_tensor(v) and v.dim() > 0]


def time_steps(trainer, batches: list[torch.Tensor], saved: tuple[dict, dict, int], flush: bool) -> float:
    """Images/s of len(batches) steps from the saved state, with the flush on or off."""
    from vaekit.fast import denormals

    trainer.model.load_state_dict(saved[0])
    trainer.opt.load_state_dict(copy.deepcopy(saved[1]))
    trainer.state.step = saved[2]  # the same learning rate and KL weight in every round
    with denormals.flush_denormals(flush):
        assert denormals.flushing() == flush
        start = time.perf_counter()
        for x in batches:
            trainer.train_step(x)
        seconds = time.perf_counter() - start
    return sum(len(x) for x in batches) / seconds


def measure(run: Path, steps: int, rounds: int) -> dict:
    from vaekit.data import iterate_batches
    from vaekit.runs import read_run_config
    from vaekit.training.loop import Trainer

    cfg = read_run_config(run)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(run, Path(tmp) / "run")
        trainer = Trainer(cfg, Path(tmp) / "run")
        trainer.open(resume=True)
        res = {"epoch": trainer.state.epoch, "weights": count_subnormals(list(trainer.model.state_dict().values())),
               "adam": count_subnormals(optimizer_tensors(trainer.opt))}
        gen = torch.Generator().manual_seed(0)
        batches = [x for x, _ in iterate_batches(trainer.train_data, cfg.train.batch_size, generator=gen)][:steps]
        saved = (copy.deepcopy(trainer.model.state_dict()), copy.deepcopy(trainer.opt.state_dict()), trainer.state.step)
        time_steps(trainer, batches[:20], saved, True)  # compiles the step
        rates: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(rounds):
            for flush in (False, True):
                rates[flush].append(time_steps(trainer, batches, saved, flush))
    res.update(off=statistics.median(rates[False]), on=statistics.median(rates[True]), rates=rates,
               steps=len(batches), rounds=rounds)
    return res


def table(res: dict, run: Path) -> str:
    (ws, wt), (ads, adt) = res["weights"], res["adam"]
    lo = lambda v: f"{min(v):,.0f}–{max(v):,.0f}"  # noqa: E731
    rows = [("subnormals in the weights", f"{ws:,} of {wt:,}", ""),
            ("subnormals in Adam's moments", f"{ads:,} of {adt:,}", f"epoch {res['epoch']} of `{run}`"),
            ("training, IEEE gradual underflow (`--no-flush-denormals`)", f"{res['off']:,.0f} images/s",
             f"median of {res['rounds']} rounds of {res['steps']} steps ({lo(res['rates'][False])})"),
            ("training, subnormals flushed (the default)", f"{res['on']:,.0f} images/s",
             f"{res['on'] / res['off']:.2f}× ({lo(res['rates'][True])})")]
    return "\n".join(["| measure | value | note |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a run folder with a checkpoint")
    p.add_argument("--steps", type=int, default=100, help="training steps per round and arm")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (flush off, flush on)")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = p.parse_args()
    res = measure(args.run, args.steps, args.rounds)
    text = table(res, args.run)
    print(text)
    if args.write:
        cmd = f"VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/denormals.py {args.run} --write"
        write_section("denormals", f"Command: `{cmd}`  \nMachine: "
                      f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
                      f"date {date.today()}.\n\n{text}")


if __name__ == "__main__":
    main()
