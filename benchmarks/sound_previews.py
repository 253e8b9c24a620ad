"""The explorer's sound previews (`Kind.item_media` of a sound run: the spectrogram PNG, and the WAV through the
mel filterbank's inverse and fast Griffin-Lim): where the time of one clip goes, what fewer iterations cost in
spectral convergence, and the preview's time before and after (the filterbank's inverse computed once a spec,
PREVIEW_ITERATIONS for the page; the files the offline commands write keep the full setting).

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/sound_previews.py --threads 1
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/sound_previews.py --threads 2 --skip-quality

--threads sets torch's and OpenBLAS's threads (before numpy is imported). Every timing runs in a worker thread,
as the explorer's requests do (FastAPI's thread pool). Timings are medians of --rounds;
before and after are paired and interleaved (alternating which runs first), and the ratio is the median of the
rounds' ratios, so load from other jobs moves both alike. Quality: the mean spectral convergence
‖|S| − |Ŝ|‖ / ‖|S|‖ of --clips spoken-digit test clips rebuilt from their true log-mel, at each setting.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--skip-quality", action="store_true")
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:  # thread pools read these when numpy and torch are first imported
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import torch  # noqa: E402

from vaekit.config import DataConfig  # noqa: E402
from vaekit.kinds.sounds import show  # noqa: E402
from vaekit.kinds.sounds.corpus import read_clips  # noqa: E402
from vaekit.kinds.sounds.features import clips_to_items, fit_clips, log_mels, sound_stats, spec_of  # noqa: E402
from vaekit.kinds.sounds.griffin_lim import griffin_lim, spectrogram_to_wave  # noqa: E402
from vaekit.kinds.sounds.metrics import spectral_convergence_wave  # noqa: E402
from vaekit.kinds.sounds.spectral import _mel_inverse, log_mel, mel_to_linear  # noqa: E402

SETTINGS = [(60, 100), (32, 32), (24, 16), (16, 16), (16, 8), (8, 8)]  # (Griffin-Lim, NNLS) iterations


def clips(n: int) -> tuple[torch.Tensor, dict]:
    """The first n spoken-digit test clips cut to the default item length, and stats of their log-mels."""
    cfg = DataConfig(dataset="spoken-digits")
    spec = spec_of(cfg)
    waves = fit_clips(read_clips(cfg, "test").waves[:n], spec)
    return waves, sound_stats(log_mels(waves, spec), spec, waves.shape[-1], None)


def quality(waves: torch.Tensor, stats: dict) -> None:
    spec = spec_of(DataConfig(dataset="spoken-digits"))
    print(f"| Griffin-Lim, NNLS iterations | spectral convergence ({len(waves)} spoken-digit test clips) |")
    print("|---|---|")
    for gl, nnls in SETTINGS:
        rebuilt = spectrogram_to_wave(log_mel(waves, spec), spec, gl, generator=torch.Generator().manual_seed(0),
                                      length=waves.shape[-1], nnls_iter=nnls)
        sc = spectral_convergence_wave(waves, rebuilt, spec)
        print(f"| {gl}, {nnls} | {float(sc.mean()):.4f} (median {float(sc.median()):.4f}) |")


POOL = ThreadPoolExecutor(1)  # every timing runs in a worker thread, as the explorer's requests do


def took(task) -> float:
    """Seconds `task` takes in the worker thread."""
    def run() -> float:
        start = time.perf_counter()
        task()
        return time.perf_counter() - start
    return POOL.submit(run).result()


def timed(task, rounds: int) -> float:
    took(task)
    return 1000 * statistics.median(took(task) for _ in range(rounds))


def profile(item: torch.Tensor, stats: dict, rounds: int) -> None:
    """Each part of one clip's preview at the full setting, alone."""
    spec = spec_of(DataConfig(dataset="spoken-digits"))
    amp = item[:, 0].mul(stats["log_mel_std"]).add(stats["log_mel_mean"]).exp()  # (1, M, T)
    linear = mel_to_linear(amp, spec)
    parts = {"filterbank inverse (pinv, step), uncached": lambda: _mel_inverse.__wrapped__(spec),
             "NNLS, 100 iterations (cached inverse)": lambda: mel_to_linear(amp, spec, 100),
             "Griffin-Lim, 60 iterations": lambda: griffin_lim(linear, spec, 60, length=stats["clip_samples"]),
             "spectrogram PNG": lambda: show.sounds_media(item, stats, ("image",))}
    for name, task in parts.items():
        print(f"| {name} | {timed(task, rounds):.1f} ms |")


def before_after(item: torch.Tensor, stats: dict, rounds: int) -> None:
    """The preview before (the inverse remade each call, 60 / 100 iterations) and after, paired."""
    def before() -> None:
        _mel_inverse.cache_clear()
        show.sounds_media(item, stats, iterations=(60, 100))

    def after() -> None:
        show.sounds_media(item, stats)

    pairs = []
    for r in range(rounds + 1):
        order = (before, after) if r % 2 == 0 else (after, before)
        seconds = {task: took(task) for task in order}
        if r:  # the first round warms up
            pairs.append((seconds[before], seconds[after]))
    b, a = (1000 * statistics.median(p[k] for p in pairs) for k in (0, 1))
    ratio = statistics.median(p[0] / p[1] for p in pairs)
    print(f"| before | {b:.0f} ms |\n| after | {a:.0f} ms |\n| ratio (median of {rounds} paired rounds) | "
          f"{ratio:.1f}x |")


def main() -> int:
    waves, stats = clips(ARGS.clips)
    item = clips_to_items(waves[:1], stats)  # (1, 1, 128, 64)
    print(f"threads: torch {torch.get_num_threads()}, OpenBLAS {os.environ['OPENBLAS_NUM_THREADS']}; "
          f"preview {show.PREVIEW_ITERATIONS}; {os.getloadavg()[0]:.1f} load")
    if not ARGS.skip_quality:
        quality(waves, stats)
    profile(item, stats, ARGS.rounds)
    before_after(item, stats, ARGS.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
