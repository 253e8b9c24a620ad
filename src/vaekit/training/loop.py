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
import json
import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from vaekit import denormals
from vaekit.compiling import CompiledOrEager
from vaekit.config import Config, save_config
from vaekit.data import DrawnBatch, TensorData, class_count, iterate_batches, load_split
from vaekit.errors import ConfigError, TrainingError
from vaekit.evaluation import validation_elbo
from vaekit.graph_passes import sampling_options
from vaekit.model import VAE, build_model
from vaekit.objectives import Terms, beta_at
from vaekit.run import Run, RunPaths, check_resumable, default_run_dir, init_weights, load_run, read_run_config
from vaekit.training import checkpoint as ckpt
from vaekit.training import distributed
from vaekit.training.metrics import MetricsLog, NullLog, summary_writer_class, truncate_metrics
from vaekit.training.optim import make_optimizer
from vaekit.training.runlock import RunLock, check_writable
from vaekit.training.schedule import values_at
from vaekit.training.step import AdamUpdate, FunctionalGradients, ObjectiveModule, objective_terms
from vaekit.viz.grid import save_grid


@dataclass
class LoopState:
    epoch: int = 0               # epochs finished
    step: int = 0                # optimizer steps attempted (skipped ones included)
    best_val: float = -math.inf  # the selection score: val log-likelihood with --eval-k, else val ELBO
    skipped: int = 0             # non-finite steps skipped, in total
    nonfinite_in_row: int = 0
    wall_seconds: float = 0.0    # training + validation time so far, across resumes (for --max-minutes)


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


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path) -> None:
        """Everything that can fail on bad input (device, data, model) happens here, before `open`
        writes anything into the run folder."""
        self.cfg, self.paths = cfg, RunPaths(run_dir)
        t = cfg.train
        if t.threads:
            torch.set_num_threads(t.threads)
        self.dist, self.device = distributed.setup(resolve_device(t.device), t.batch_size)
        self.main = self.dist.is_main
        if t.tensorboard:
            summary_writer_class()  # fails before any folder is made when the package is missing
        stats = self._read_stats()  # array statistics of the run being resumed (a new run has none)
        self.train_data = load_split(cfg.data, "train", stats=stats)
        self.val_data = load_split(cfg.data, "val", stats=self.train_data.stats)
        if cfg.model.conditional:  # the label inputs' width, fixed in the saved config
            cfg.model.n_classes = class_count(self.train_data, cfg.model.n_classes)
        torch.manual_seed(t.seed)  # initial weights
        first = self.train_data.take(cfg.model.prior_components).x if cfg.model.prior == "vamp" else None
        self.model = build_model(cfg.model, self.train_data.event_shape, data=first)
        if isinstance(self.train_data, TensorData):
            self.model.init_output_bias(self.train_data.x.mean(0))
        if t.init_from:
            init_weights(self.model, cfg, Path(t.init_from))
        self.model.to(self.device)
        self.ema = copy.deepcopy(self.model).requires_grad_(False) if t.ema > 0 else None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = make_optimizer(self.model, t, self.device)
        self.update = AdamUpdate(self.opt, self.params)  # the update from the functional step's gradients
        self.steps_per_epoch = math.ceil(len(self.train_data) / t.batch_size)
        self.eager: nn.Module = ObjectiveModule(cfg, self.model)
        if self.dist.enabled:  # gradients all-reduced by DDP's hooks (gloo on CPUs, nccl on GPUs)
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.eager = nn.parallel.DistributedDataParallel(self.eager, device_ids=ids)
        # the plain path's objective, compiled: DDP's full batches, and a fallback of the compiled step;
        # it draws ε as the eager objective does (sampling_options)
        self.compiled = CompiledOrEager(self.eager, enabled=t.compile, options=sampling_options())
        # one compiled graph for forward, backward and the norm (vaekit.training.step), single process
        self.functional = None if self.dist.enabled or not t.compile else FunctionalGradients(
            self.eager, self.params, t.grad_clip)
        self.state = LoopState()
        self._beta: tuple[float, torch.Tensor] | None = None  # the last step's β, and its tensor
        self.progress = 0.0  # of the last step: the fraction of the run done (vaekit.training.schedule)
        self._epoch_started = time.perf_counter()
        self._clock: float | None = None  # distributed: rank 0's elapsed seconds, as last broadcast

    def open(self, resume: bool) -> None:
        """Continue from the run folder's newest intact checkpoint, or start the folder afresh (a new
        run, or one killed before its first checkpoint)."""
        state = ckpt.resumable_state(self.paths.checkpoints) if resume else None
        if state is not None:
            if self.main:  # a resumed run writes checkpoints too: the same check as a new one
                check_writable(self.paths.root, self._checkpoint_bytes())
            self._load_checkpoint(state)
        elif self.main:
            self._start_run_folder()

    @property
    def eval_model(self) -> VAE:
        """The weights evaluated and saved as 'best': the EMA copy when enabled (as in vdvae)."""
        return self.ema if self.ema is not None else self.model

    def _read_stats(self) -> dict | None:
        p = self.paths.data_stats
        return json.loads(p.read_text()) if p.is_file() else None

    def _checkpoint_bytes(self) -> int:
        """Room the checkpoints need: last, best and EMA weights and twice the optimizer state."""
        return 8 * sum(p.numel() * p.element_size() for p in self.model.parameters())

    def _start_run_folder(self) -> None:
        check_writable(self.paths.root, self._checkpoint_bytes())
        save_config(self.cfg, self.paths.config)
        if self.train_data.stats is not None:
            ckpt.write_json(self.paths.data_stats, self.train_data.stats)
        self.paths.metrics.write_text("")

    # --- the step -------------------------------------------------------------------------------
    def train_step(self, x: torch.Tensor | DrawnBatch, y: torch.Tensor | None = None) -> Terms | None:
        """One optimizer step; returns None when the loss or gradient was non-finite and the
        step was skipped (vdvae's guard), raising after `max_nonfinite` of them in a row. A DrawnBatch
        (single process, --compile, on the CPU) is drawn inside the compiled step's graph."""
        t, s = self.cfg.train, self.state
        elapsed = self._elapsed() if t.max_minutes else 0.0
        self.progress, lr, b = values_at(s.step, t.epochs * self.steps_per_epoch, elapsed, t)
        for group in self.opt.param_groups:
            group["lr"] = lr
        if self._beta is None or self._beta[0] != b:  # a tensor input of the compiled step: made when β moves
            self._beta = (b, torch.tensor(b, device=self.device))
        beta = self._beta[1]
        x, weight = distributed.shard(x, self.dist)  # this rank's slice of the global batch
        y = None if y is None else distributed.shard(y, self.dist)[0]
        full = len(x) == t.batch_size // self.dist.world  # a last, smaller batch runs eagerly
        found = self.functional(x, beta, y) if full and self.functional is not None else None
        if found is None:
            found = self._backward(x.binarized() if isinstance(x, DrawnBatch) else x, beta, y, weight, full)
        out, grads, ok = found
        terms = objective_terms(out)
        s.step += 1
        if self.dist.enabled:  # every rank skips together (the norm of the all-reduced gradient agrees)
            ok = distributed.all_reduce_sum((~ok).float(), self.dist) == 0
        if not bool(ok):
            s.skipped += 1
            s.nonfinite_in_row += 1
            if s.nonfinite_in_row >= t.max_nonfinite:
                raise TrainingError(f"{s.nonfinite_in_row} non-finite steps in a row at step {s.step} "
                                    f"(loss {float(terms.loss.detach()):.4g}); try a lower --lr or --grad-clip. "
                                    f"The last good checkpoint is kept in {self.paths.checkpoints}")
            return None
        s.nonfinite_in_row = 0
        if grads is None:
            self.opt.step()
        else:
            self.update(grads)
        if self.ema is not None:
            with torch.no_grad():  # one foreach call for every tensor, as torch.optim.swa_utils' EMA does
                torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1.0 - t.ema)
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

    def _backward(self, x: torch.Tensor, beta: torch.Tensor, y: torch.Tensor | None, weight: float,
                  compiled: bool) -> tuple[tuple[torch.Tensor, ...], None, torch.Tensor]:
        """The plain path: loss.backward() (DDP's all-reduce runs inside it) leaves the gradients in
        `.grad`, clipped in place with --grad-clip; returns the objective's terms and whether the
        loss and the gradients' norm are finite."""
        t = self.cfg.train
        out = (self.compiled if compiled else self.eager)(x, beta, y)
        self.opt.zero_grad(set_to_none=True)
        (out[0] * weight if weight != 1.0 else out[0]).backward()
        # foreach: one kernel for all the gradients' norms instead of one per tensor (~0.25 ms a step here)
        foreach = True if self.device.type in ("cpu", "cuda") else None  # None: torch decides
        if t.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.params, t.grad_clip, foreach=foreach)
        else:  # the norm alone, for the finiteness check (clipping at inf would rescale every grad by 1)
            norm = torch.nn.utils.get_total_norm([p.grad for p in self.params if p.grad is not None],
                                                 foreach=foreach)
        return out, None, torch.isfinite(out[0].detach()) & torch.isfinite(norm)

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
        # the compiled step draws dynamically binarized batches itself (DrawnBatch): no pass of their own
        drawn = self.functional is not None and self.functional.fn is not None and self.device.type == "cpu"
        for x, labels in iterate_batches(self.train_data, t.batch_size, generator=data_gen, compile=t.compile,
                                         drawn=drawn):
            if len(x) < self.dist.world:
                continue  # a last batch too small to give every rank an item (distributed runs only)
            x = x if isinstance(x, DrawnBatch) else x.to(self.device, non_blocking=True)
            y = labels.to(self.device) if self.cfg.model.conditional else None
            terms = self.train_step(x, y)
            bar.update(1)
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
                "skipped_steps": self.state.skipped - skipped_before, "lr": self.opt.param_groups[0]["lr"]}

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
                           compile=t.compile)
            record["val_log_likelihood"] = res["log_likelihood"]
        s.epoch = record["epoch"]
        s.wall_seconds += time.perf_counter() - started if started is not None else record["train_seconds"]
        record["wall_seconds"] = s.wall_seconds
        # IWAE training lowers the ELBO while it raises log p(x), so with --eval-k the bound chooses
        score = record.get("val_log_likelihood", val["elbo"])
        improved = score > s.best_val
        s.best_val = max(s.best_val, score)
        if self.main:
            if self.train_data.is_image:
                self._save_pictures(s.epoch)
            self._save_checkpoint(best=improved)
        log.write(record)

    @torch.no_grad()
    def _save_pictures(self, epoch: int) -> None:
        from vaekit.viz.grid import reconstruction_pairs

        m, n, k = self.eval_model.eval(), self.cfg.train.grid, self.cfg.model.n_classes
        gen = torch.Generator(device=self.device).manual_seed(self.cfg.train.seed)  # same z every epoch
        cond = self.cfg.model.conditional
        y = torch.arange(n, device=self.device) % k if cond else None  # conditional: column j shows class j
        samples = m.sample(n, generator=gen, y=y).clamp(0, 1)
        val = self.val_data.take(max(1, n // 2))
        x, y = val.x.to(self.device), val.labels.to(self.device) if cond else None
        pairs, ncol = reconstruction_pairs(x, m.reconstruct(x, y).clamp(0, 1))
        root = self.paths.root
        for name, images, nrow in (("samples", samples, k if cond else None), ("reconstructions", pairs, ncol)):
            sub = "recon" if name == "reconstructions" else "samples"
            save_grid(images, root / sub / f"epoch_{epoch:04d}.png", nrow)
            save_grid(images, root / f"{name}.png", nrow)

    def _save_checkpoint(self, best: bool) -> None:
        d, s = self.paths.checkpoints, self.state
        ckpt.keep_previous(d)  # the current checkpoint stays usable while the new one is written
        files = {"last.safetensors": ckpt.save_weights(d / "last.safetensors", self.model),
                 "last-optim.pt": ckpt.save_optimizer(d / "last-optim.pt", self.opt)}
        eval_name = "last.safetensors"
        if self.ema is not None:
            eval_name = "last-ema.safetensors"
            files[eval_name] = ckpt.save_weights(d / eval_name, self.ema)
        meta = {"event_shape": list(self.train_data.event_shape), "eval_weights": eval_name,
                "saved": datetime.now().isoformat(timespec="seconds")}
        if best:
            digest = ckpt.save_weights(d / "best.safetensors", self.eval_model)
            ckpt.write_json(d / "best.json", {**s.__dict__, **meta, "eval_weights": "best.safetensors",
                                              "files": {"best.safetensors": digest}})
        ckpt.write_json(d / "last.json", {**s.__dict__, **meta, "files": files})  # the commit point

    def _load_checkpoint(self, found: tuple[dict[str, Any], str]) -> None:
        """Resume from `last` (or from `prev` when last is damaged: see checkpoint.resumable_state)."""
        d, (state, name) = self.paths.checkpoints, found
        files = state["files"]
        ckpt.load_weights(d / f"{name}.safetensors", self.model, files.get(f"{name}.safetensors"))
        if self.ema is not None:
            ckpt.load_weights(d / f"{name}-ema.safetensors", self.ema, files.get(f"{name}-ema.safetensors"))
        ckpt.load_optimizer(d / f"{name}-optim.pt", self.opt, files.get(f"{name}-optim.pt"))
        state.setdefault("best_val", state.get("best_val_elbo", -math.inf))  # its name before --eval-k chose
        self.state = LoopState(**{k: state[k] for k in LoopState.__dataclass_fields__ if k in state})
        if self.main:
            truncate_metrics(self.paths.metrics, self.state.step)

    def fit(self) -> None:
        t = self.cfg.train
        log: MetricsLog | NullLog = NullLog()
        if self.main:
            log = MetricsLog(self.paths.metrics, self.paths.root / "tensorboard" if t.tensorboard else None)
        # subnormal floats cost ~100x on x86 and a long run accumulates them (vaekit.denormals)
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
                               f"{record['val_elbo']:.2f}  ({record['images_per_s']:.0f} images/s)")
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
          resume: str | Path | None = None) -> Run:
    """Train a VAE and return its Run (folder, config, model with the best evaluation weights).

    resume: a run folder to continue from its last finished epoch; `config` (if given) may raise
    `train.epochs` to train longer, and must otherwise match the run's config.
    """
    env = distributed.env_from_torchrun()
    if resume is not None:
        run_dir = Path(resume)
        saved = read_run_config(run_dir)
        cfg = config or saved
        check_resumable(saved, cfg, run_dir)
    else:
        cfg = config or Config()
        run_dir = Path(out) if out is not None else default_run_dir(cfg)
        if env.is_main and (run_dir / "config.json").exists():
            raise ConfigError(f"{run_dir} already holds a run: continue it with --resume {run_dir}, "
                              "or choose another --out")
    trainer = Trainer(cfg, run_dir)
    with RunLock(run_dir) if env.is_main else contextlib.nullcontext():  # one trainer per run folder
        trainer.open(resume=resume is not None)
        if resume is not None and trainer.main:
            save_config(cfg, trainer.paths.config)  # e.g. more epochs
        trainer.fit()
        if trainer.main and cfg.train.report:
            from vaekit.viz.report import write_report

            write_report(run_dir)
    distributed.barrier(trainer.dist)  # rank 0 has written the checkpoints every rank loads
    run = load_run(run_dir, "best", trainer.device)
    distributed.teardown(trainer.dist)
    return run

