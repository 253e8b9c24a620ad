"""The one training loop: the only place with optimizers, devices, logging and checkpoints.

Reproducibility: all randomness of epoch e (data order, dynamic binarization, the ε of the
reparameterisation) comes from generators seeded by (seed, e), so a run resumed from the
checkpoint of epoch e repeats exactly what an uninterrupted run does next: the data order and the
random state are part of the checkpoint through (seed, epoch).

Launched by torchrun, the same loop trains data-parallel (`vaekit.training.distributed`): every rank
takes its slice of each global batch, DistributedDataParallel all-reduces the gradients, rank 0
alone writes the run folder.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from vaekit.config import Config
from vaekit.config_files import save_config
from vaekit.data import class_count
from vaekit.errors import ConfigError, TrainingError
from vaekit.evaluation import validation_elbo
from vaekit.fast import AutoPlan, denormals, make_step
from vaekit.fast.cache import graph_key
from vaekit.fast.drawn import can_draw
from vaekit.kinds import kind_of, with_kind_defaults
from vaekit.model import VAE, build_model
from vaekit.objectives import Terms, beta_at
from vaekit.runs import (
    MetricsLog,
    NullLog,
    Run,
    RunLock,
    RunPaths,
    check_resumable,
    check_writable,
    default_run_dir,
    init_weights,
    load_checkpoint,
    load_run,
    read_run_config,
    read_stats,
    save_checkpoint,
    summary_writer_class,
    truncate_metrics,
    write_json,
)
from vaekit.training import distributed
from vaekit.training.aggressive import AggressiveTraining
from vaekit.training.callbacks import Callback, EpochEnd
from vaekit.training.optim import make_optimizer
from vaekit.training.schedule import values_at
from vaekit.training.step import ObjectiveModule


@dataclass
class LoopState:
    epoch: int = 0               # epochs finished
    step: int = 0                # optimizer steps attempted (skipped ones included)
    best_val: float = -math.inf  # the selection score of the best epoch so far (selection_score)
    skipped: int = 0             # non-finite steps skipped, in total
    nonfinite_in_row: int = 0
    wall_seconds: float = 0.0    # training + validation time so far, across resumes (for --max-minutes)
    aggressive: bool = False     # --aggressive: the next epoch is aggressive (vaekit.training.aggressive)
    aggressive_ended: int = 0    # the epoch after which aggressive mode ended (0: on, or never on)
    val_mutual_information: float = -math.inf  # the last epoch's, with --aggressive


def resolve_device(name: str) -> torch.device:
    """A torch device from the config, checked to exist here (a clear error instead of a CUDA trace)."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device {name!r} is not a torch device (cpu, cuda, cuda:1, mps)") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, True):
        raise ConfigError(f"--device {name}: this machine's torch has no {device.type} device")
    return device


SYNC_STEPS = 16  # distributed runs under a budget: steps between broadcasts of rank 0's clock


def epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + epoch


def selection_score(record: dict[str, Any], beta: float) -> float:
    """What 'best' maximises over the epochs' validation figures: log p(x) with --eval-k (IWAE training lowers
    the ELBO while it raises log p(x)); else the objective the run trains, -(distortion + beta * rate) at the
    run's final beta: the ELBO for beta = 1, and for a beta-VAE its own bound (Higgins et al. 2017), since a
    beta < 1 run trades ELBO for rate on purpose and the ELBO would choose its first, least informative epoch."""
    if "val_log_likelihood" in record:
        return record["val_log_likelihood"]
    if beta == 1.0:
        return record["val_elbo"]
    return -(record["val_distortion"] + beta * record["val_rate"])


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path, callbacks: Sequence[Callback] = ()) -> None:
        """Everything that can fail on bad input (device, data, model) happens here, before `open`
        writes anything into the run folder."""
        self.cfg, self.paths, self.callbacks = cfg, RunPaths(run_dir), list(callbacks)
        t = cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        self.dist, self.device = distributed.setup(resolve_device(t.device), t.batch_size)
        self.main = self.dist.is_main
        if t.tensorboard:
            summary_writer_class()  # fails before any folder is made when the package is missing
        self.kind = kind_of(cfg.data.dataset)
        with_kind_defaults(cfg)
        self.kind.check_data(cfg.data)
        self.kind.check(cfg.model)
        stats = read_stats(run_dir)  # a resumed run keeps what it measured of its data
        self.train_data = self.kind.load_split(cfg.data, "train", stats)
        self.val_data = self.kind.load_split(cfg.data, "val", self.train_data.stats)
        if cfg.model.conditional:  # the label inputs' width, fixed in the saved config
            cfg.model.n_classes = class_count(self.train_data, cfg.model.n_classes)
        torch.manual_seed(t.seed)  # initial weights
        first = self.train_data.take(cfg.model.prior_components).x if cfg.model.prior == "vamp" else None
        self.model = build_model(cfg.model, self.train_data.event_shape, data=first, kind=self.kind,
                                 stats=self.train_data.stats)
        self.kind.init_model(self.model, self.train_data)
        if t.init_from:
            init_weights(self.model, cfg, Path(t.init_from))
        self.model.to(self.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if t.ema > 0 else None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = make_optimizer(self.model, t, self.device)
        self.steps_per_epoch = math.ceil(len(self.train_data) / t.batch_size)
        objective: nn.Module = ObjectiveModule(cfg, self.model)
        if self.dist.enabled:  # gradients all-reduced by DDP's hooks (gloo on CPUs, nccl on GPUs)
            ids = [self.device.index] if self.device.type == "cuda" else None
            objective = nn.parallel.DistributedDataParallel(objective, device_ids=ids)
        mode = t.compile if self.kind.compiles else "off"
        self.step = make_step(objective, self.params, self.opt, grad_clip=t.grad_clip, batch_size=t.batch_size,
                              compile=mode, dist=self.dist, device=self.device,
                              auto=None if mode == "off" or self.dist.enabled else self._auto_plan())
        # --aggressive: its epochs take a plain step of their own, which updates the encoder or the decoder alone
        self.aggressive = AggressiveTraining(objective, self.model, self.params, self.opt, t.grad_clip, self.dist,
                                             self.device, cfg.model.conditional) if t.aggressive else None
        self.state = LoopState(aggressive=t.aggressive)
        self._beta: tuple[float, torch.Tensor] | None = None  # the last step's β, and its tensor
        self.progress = 0.0  # of the last step: the fraction of the run done (vaekit.training.schedule)
        self._epoch_started = time.perf_counter()
        self._clock: float | None = None  # distributed: rank 0's elapsed seconds, as last broadcast

    def _auto_plan(self) -> AutoPlan:
        """What `--compile auto` weighs: the run ahead (steps, and the budget's seconds), the cache key."""
        t, data = self.cfg.train, self.train_data
        x = getattr(data, "x", None)
        dtype = x.dtype if isinstance(x, torch.Tensor) else torch.float32
        key = graph_key(self.cfg, tuple(data.event_shape), dtype, can_draw(data), self.device)

        def ahead() -> tuple[int, float]:
            budget = t.max_minutes * 60 - self._elapsed() if t.max_minutes else math.inf
            return t.epochs * self.steps_per_epoch - self.state.step, max(budget, 0.0)

        return AutoPlan(ahead, self.steps_per_epoch, key, self.kind.compile_speedup,
                        tqdm.write if self.main else lambda _: None)

    def open(self, resume: bool) -> None:
        """Continue from the run folder's newest intact checkpoint, or start the folder afresh (a new
        run, or one killed before its first checkpoint)."""
        state = load_checkpoint(self.paths, self.model, self.opt, self.ema) if resume else None
        if state is not None:
            if self.main:  # a resumed run writes checkpoints too: the same check as a new one
                check_writable(self.paths.root, self._checkpoint_bytes())
            self._restore_state(state)
        elif self.main:
            self._start_run_folder()

    @property
    def eval_model(self) -> VAE:
        """The weights evaluated and saved as 'best': the EMA copy when enabled (as in vdvae)."""
        return self.ema if self.ema is not None else self.model

    def _checkpoint_bytes(self) -> int:
        """Room the checkpoints need: last, best and EMA weights and twice the optimizer state."""
        return 8 * sum(p.numel() * p.element_size() for p in self.model.parameters())

    def _start_run_folder(self) -> None:
        check_writable(self.paths.root, self._checkpoint_bytes())
        save_config(self.cfg, self.paths.config)
        if self.train_data.stats is not None:
            write_json(self.paths.data_stats, self.train_data.stats)
        self.paths.metrics.write_text("")

    # --- the step -------------------------------------------------------------------------------
    def train_step(self, x: Any, y: torch.Tensor | None = None, step: Any = None) -> Terms | None:
        """One optimizer step on a batch from `self.step.batches` (or `step`'s: an aggressive epoch's); returns
        None when the loss or gradient was non-finite and the step was skipped (vdvae's guard), raising after
        `max_nonfinite` of them in a row."""
        t, s = self.cfg.train, self.state
        elapsed = self._elapsed() if t.max_minutes else 0.0
        self.progress, lr, b = values_at(s.step, t.epochs * self.steps_per_epoch, elapsed, t)
        for group in self.opt.param_groups:
            group["lr"] = lr
        if self._beta is None or self._beta[0] != b:  # a tensor input of the compiled step: made when β moves
            self._beta = (b, torch.tensor(b, device=self.device))
        terms, ok = (step or self.step)(x, y, self._beta[1])
        s.step += 1
        if not ok:
            s.skipped += 1
            s.nonfinite_in_row += 1
            if s.nonfinite_in_row >= t.max_nonfinite:
                raise TrainingError(f"{s.nonfinite_in_row} non-finite steps in a row at step {s.step} "
                                    f"(loss {float(terms.loss.detach()):.4g}); try a lower --lr or --grad-clip. "
                                    f"The last good checkpoint is kept in {self.paths.checkpoints}")
            return None
        s.nonfinite_in_row = 0
        if self.ema is not None:
            with torch.no_grad():  # ema <- ema + (1 - decay) (model - ema), as torch.optim.swa_utils' EMA
                for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                    e.lerp_(p, 1.0 - t.ema)
        return terms

    def _elapsed(self) -> float:
        """Seconds of training and validation so far, across resumes, as a budget's schedules read them.
        Distributed: rank 0's clock, broadcast every SYNC_STEPS steps, so that every rank computes the
        same lr and β (and agrees on the stop) without a collective in every step."""
        s = self.state
        if self.dist.enabled and self._clock is not None and s.step % SYNC_STEPS:
            return self._clock
        self._clock = distributed.from_main(s.wall_seconds + time.perf_counter() - self._epoch_started, self.dist)
        return self._clock

    # --- one epoch ------------------------------------------------------------------------------
    def run_epoch(self, epoch: int, log: MetricsLog) -> dict[str, Any]:
        t = self.cfg.train
        data_gen = torch.Generator().manual_seed(epoch_seed(t.seed, epoch))
        # the ε of the reparameterisation (eager or compiled); each rank draws its own
        torch.manual_seed(epoch_seed(t.seed, epoch) + 7919 * self.dist.rank)
        self.model.train()
        parts: list[torch.Tensor] = []  # each step's (3, B) elbo, rate, distortion, summed at the end
        n_seen, skipped_before = 0, self.state.skipped
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch}/{t.epochs}",
                   disable=not (t.progress and self.main), leave=False)
        start = time.perf_counter()
        aggressive = self.aggressive is not None and self.state.aggressive
        step = self.aggressive.step if aggressive else self.step
        for x, labels in step.batches(self.train_data, t.batch_size, data_gen):
            if len(x) < self.dist.world:
                continue  # a last batch too small to give every rank an item (distributed runs only)
            terms = self.train_step(x, labels if self.cfg.model.conditional else None, step)
            bar.update(1)
            if aggressive and t.max_minutes and self.progress >= 1.0:
                break  # an aggressive epoch can take 100x an ordinary one's time: the budget ends it (one process)
            if terms is None:
                continue
            parts.append(torch.stack([terms.elbo, terms.rate, terms.distortion]).detach())  # one op a step
            n_seen += len(terms.elbo)
            if self.state.step % t.log_every == 0:
                self._log_step(log, epoch, terms, bar)
        sums = torch.cat(parts, 1).double().sum(1) if parts else torch.zeros(3, dtype=torch.float64,
                                                                              device=self.device)
        seconds = time.perf_counter() - start
        bar.close()
        if self.dist.enabled:  # the epoch's averages over every rank's items
            n = torch.tensor([float(n_seen)], dtype=torch.float64, device=self.device)
            totals = distributed.all_reduce_sum(torch.cat([sums, n]), self.dist)
            sums, n_seen = totals[:3], int(totals[3])
        e, r, d = (sums / max(n_seen, 1)).tolist()
        return {"kind": "epoch", "epoch": epoch, "step": self.state.step, "train_elbo": e, "train_rate": r,
                "train_distortion": d, "train_seconds": seconds, "images_per_s": len(self.train_data) / seconds,
                "skipped_steps": self.state.skipped - skipped_before, "lr": self.opt.param_groups[0]["lr"],
                **(self.aggressive.epoch_record(aggressive) if self.aggressive is not None else {})}

    def _log_step(self, log: MetricsLog, epoch: int, terms: Terms, bar: tqdm) -> None:
        t = self.cfg.train
        rec = {"kind": "step", "epoch": epoch, "step": self.state.step, "loss": float(terms.loss.detach()),
               "elbo": float(terms.elbo.detach().mean()), "rate": float(terms.rate.detach().mean()),
               "distortion": float(terms.distortion.detach().mean()), "beta": beta_at(self.state.step, t.beta,
                                                                             t.warmup_steps, self.progress),
               "lr": self.opt.param_groups[0]["lr"]}
        log.write(rec)
        bar.set_postfix(elbo=f"{rec['elbo']:.2f}", rate=f"{rec['rate']:.2f}")

    # --- end of epoch: validate, pictures, checkpoint ----------------------------------------------
    def end_epoch(self, record: dict[str, Any], log: MetricsLog, started: float | None = None) -> None:
        t, s = self.cfg.train, self.state
        val = validation_elbo(self.eval_model, self.val_data, seed=t.seed)
        record.update({f"val_{k}": v for k, v in val.items()})
        if t.eval_k > 1:
            from vaekit.evaluation import evaluate

            res = evaluate(self.eval_model, self.val_data, k=t.eval_k, seed=t.seed, progress=False,
                           compile=t.compile != "off")
            record["val_log_likelihood"] = res["log_likelihood"]
        if self.aggressive is not None:  # I_q(x; z), and the end of aggressive mode when it did not rise
            record.update(self.aggressive.end_epoch(s, self.eval_model, self.val_data, t.seed, record["epoch"],
                                                    self.main))
        s.epoch = record["epoch"]
        s.wall_seconds += time.perf_counter() - started if started is not None else record["train_seconds"]
        record["wall_seconds"] = s.wall_seconds
        score = selection_score(record, t.beta)
        improved = score > s.best_val
        s.best_val = max(s.best_val, score)
        if self.main:
            event = EpochEnd(self.paths.root, s.epoch, self.eval_model, self.val_data, self.cfg, self.device,
                             self.kind)
            for callback in self.callbacks:
                callback.on_epoch_end(event)
            self._save_checkpoint(best=improved)
        log.write(record)

    def _save_checkpoint(self, best: bool) -> None:
        save_checkpoint(self.paths, self.model, self.opt, self.ema, dict(self.state.__dict__),
                        self.train_data.event_shape, best)

    def _restore_state(self, state: dict[str, Any]) -> None:
        state.setdefault("best_val", state.get("best_val_elbo", -math.inf))  # its name before --eval-k chose
        self.state = LoopState(**{k: state[k] for k in LoopState.__dataclass_fields__ if k in state})
        if self.main:
            truncate_metrics(self.paths.metrics, self.state.step)

    def fit(self) -> None:
        t = self.cfg.train
        log: MetricsLog | NullLog = NullLog()
        if self.main:
            log = MetricsLog(self.paths.metrics, self.paths.tensorboard if t.tensorboard else None)
        # subnormal floats cost ~100x on x86 and a long run accumulates them (vaekit.fast.denormals)
        with contextlib.closing(log), denormals.flush_denormals(t.flush_denormals and self.device.type == "cpu"):
            if self.state.step == 0:  # where training starts from: the first point of the loss curves
                val = validation_elbo(self.eval_model, self.val_data, seed=t.seed)
                log.write({"kind": "init", "epoch": 0, "step": 0, **self._scale_record(),
                           **{f"val_{k}": v for k, v in val.items()}})
            for epoch in range(self.state.epoch + 1, t.epochs + 1):
                start = self._epoch_started = time.perf_counter()
                record = self.run_epoch(epoch, log)
                self.end_epoch(record, log, started=start)
                if self.main:
                    tqdm.write(f"epoch {epoch}: train elbo {record['train_elbo']:.2f}  val elbo "
                               f"{record['val_elbo']:.2f}  ({record['images_per_s']:.0f} items/s)")
                # the epoch whose last step reached the budget's end ran its schedules to their end
                spent = bool(t.max_minutes) and self.progress >= 1.0
                if distributed.agree(spent, self.dist):  # rank 0's clock decides for every rank
                    if self.main:
                        tqdm.write(f"stopping after epoch {epoch}: the --max-minutes {t.max_minutes} budget is spent")
                    break
            if self.dist.enabled:
                log.write({"kind": "dist", "epoch": self.state.epoch, "step": self.state.step, **self._scale_record(),
                           "weights_identical": distributed.weights_agree(self.model, self.dist)})

    def _scale_record(self) -> dict[str, Any]:
        """What data parallelism changes: the world size, the per-rank and global batch, the lr."""
        t, w = self.cfg.train, self.dist.world
        return {"world_size": w, "global_batch": t.batch_size, "batch_per_rank": t.batch_size // w, "lr": t.lr}


def train(config: Config | None = None, out: str | Path | None = None,
          resume: str | Path | None = None, callbacks: Sequence[Callback] = ()) -> Run:
    """Train a VAE and return its Run (folder, config, model with the best evaluation weights).

    resume: a run folder to continue from its last finished epoch; `config` (if given) may raise
    `train.epochs` to train longer, and must otherwise match the run's config.
    """
    env = distributed.env_from_torchrun()
    if resume is not None:
        run_dir = Path(resume)
        saved = with_kind_defaults(read_run_config(run_dir), given=None)  # as it was trained
        cfg = config or saved
        check_resumable(saved, cfg, run_dir)
    else:
        cfg = with_kind_defaults(config or Config())
        run_dir = Path(out) if out is not None else default_run_dir(cfg)
        if env.is_main and RunPaths(run_dir).config.exists():
            raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                              "or choose another --out")
    trainer = Trainer(cfg, run_dir, callbacks)
    with RunLock(run_dir) if env.is_main else contextlib.nullcontext():  # one trainer per run folder
        trainer.open(resume=resume is not None)
        if resume is not None and trainer.main:
            save_config(cfg, trainer.paths.config)  # e.g. more epochs
        trainer.fit()
        if trainer.main:
            for callback in trainer.callbacks:
                callback.on_train_end(Path(run_dir), cfg)
    distributed.barrier(trainer.dist)  # rank 0 has written the checkpoints every rank loads
    run = load_run(run_dir, "best", trainer.device)
    distributed.teardown(trainer.dist)
    return run

