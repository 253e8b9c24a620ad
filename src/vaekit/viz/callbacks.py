"""The pictures and the report a training run writes, as training callbacks (`vaekit.training.callbacks`):
the CLI and `vaekit.train` install them; `vaekit.training.loop.train` alone writes none."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import torch

from vaekit.config import Config
from vaekit.training.callbacks import Callback, EpochEnd


class EpochPictures:
    """After each epoch: samples from the prior (the same z every epoch) and reconstructions of the first
    validation items, as RUN_DIR/samples/epoch_NNNN.png and recon/epoch_NNNN.png (+ .npy), and the latest
    as samples.png and reconstructions.png. Image data only."""

    def on_epoch_end(self, event: EpochEnd) -> None:
        if not event.kind.shows(event.val_data.event_shape, event.val_data):
            return
        with torch.no_grad():
            self._write(event)

    def _write(self, event: EpochEnd) -> None:
        from vaekit.kinds.images.grid import reconstruction_pairs

        cfg, device = event.config, event.device
        m, n, k = event.model.eval(), cfg.train.grid, cfg.model.n_classes
        gen = torch.Generator(device=device).manual_seed(cfg.train.seed)  # same z every epoch
        cond = cfg.model.conditional
        y = torch.arange(n, device=device) % k if cond else None  # conditional: column j shows class j
        samples = m.sample(n, generator=gen, y=y)
        val = event.val_data.take(max(1, n // 2))
        x, y = val.x.to(device), val.labels.to(device) if cond else None
        pairs, ncol = reconstruction_pairs(x, m.reconstruct(x, y))
        stats = getattr(event.val_data, "stats", None)  # e.g. the vocabulary of a text run
        for name, sub, items, nrow in (("samples", "samples", samples, k if cond else None),
                                       ("reconstructions", "recon", pairs, ncol)):
            out, latest = event.run_dir / sub / f"epoch_{event.epoch:04d}.png", event.run_dir / f"{name}.png"
            # written once, then copied: turning items into files can be costly (sounds: Griffin-Lim)
            written = event.kind.write_grid(items, out, nrow, stats)
            np.save(out.with_suffix(".npy"), items.detach().cpu().numpy())
            for path in [*written, out.with_suffix(".npy")]:
                copy_renamed(path, out, latest)

    def on_train_end(self, run_dir: Path, config: Config) -> None:
        pass


def copy_renamed(path: Path, out: Path, latest: Path) -> Path:
    """Copy a file `Kind.write_grid` wrote for `out` (named after out's stem: out.png, out/03.wav,
    out_row_00.wav) to the same name made from `latest`'s stem, beside `latest`."""
    rel = path.relative_to(out.parent).as_posix()
    if not rel.startswith(out.stem):
        raise ValueError(f"{path} is not named after {out.stem}")
    target = latest.parent / (latest.stem + rel[len(out.stem):])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target


class Report:
    """At the end of training, RUN_DIR/report.html (`vaekit.viz.report`), unless --no-report."""

    def on_epoch_end(self, event: EpochEnd) -> None:
        pass

    def on_train_end(self, run_dir: Path, config: Config) -> None:
        if config.train.report:
            from vaekit.viz.report import write_report

            write_report(run_dir)


def default_callbacks() -> list[Callback]:
    """What `vaekit train` writes besides checkpoints and metrics: per-epoch pictures and the report."""
    return [EpochPictures(), Report()]
