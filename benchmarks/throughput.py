"""Training and evaluation speed of vaekit, against a textbook PyTorch loop and this machine's matmul roofline.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --write     # ~15 minutes on 2 cores
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --smoke     # < 1 minute: 2k images, k = 10

Speed target: vaekit trains at >= 1.8x the images/s of a textbook PyTorch loop (loss.backward(); opt.step()
over a DataLoader) as the median of 3 interleaved rounds in one run, and the k = 5000 evaluation of all 10k
test images takes <= 4.5 min including compilation.

Reference model: MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam 1e-3, MNIST's 50k training
images. Both loops are built once and warmed up by one epoch each (vaekit's compilation included). Then each
round runs `--epochs` epochs of each loop, alternating epoch by epoch, then the matmul roofline, so that the
host's slow and fast spells fall on both loops alike; a round's ratio is its vaekit images/s over its
textbook images/s.
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
from typing import Any

import torch
import torch.nn.functional as F
from docsection import write_section
from torch import nn

B, D_IN, H, Z = 128, 784, 400, 20
# (rows, in, out) of the reference model's four linear layers at batch B
LAYERS = [(B, D_IN, H), (B, H, 2 * Z), (B, Z, H), (B, H, D_IN)]
SMOKE_IMAGES, SMOKE_K = 2048, 10


def forward_flops_per_image() -> int:
    return sum(2 * i * o for _, i, o in LAYERS)


def matmul_flops_per_image() -> int:
    """Exact matmul FLOPs of one training step per image: forward 2·in·out per layer, backward the
    weight gradient (2·in·out) for every layer and the input gradient for all but the first."""
    return 2 * forward_flops_per_image() + sum(2 * i * o for _, i, o in LAYERS[1:])


def forward_count_share(images_per_s: float, res: dict) -> float:
    """Achieved FLOP/s over the roofline's, counting 3·forward FLOPs an image (≈ 3.9 MFLOP here), the usual
    convention. The exact count (`matmul_flops_per_image`, 3.28 MFLOP) leaves out the first layer's input
    gradient, which no training step computes, so it gives the lower, stricter share."""
    return images_per_s * 3 * forward_flops_per_image() / (res["roofline_gflops"] * 1e9)


def roofline_step_seconds(repeats: int = 7, iters: int = 200) -> float:
    """Median time of exactly the matmuls one training step does (forward, grad-input, grad-weight)."""
    g = torch.Generator().manual_seed(0)
    ops = []
    for k, (rows, i, o) in enumerate(LAYERS):
        x, w, gy = (torch.randn(s, generator=g) for s in ((rows, i), (o, i), (rows, o)))
        ops.append((x, w.t()))          # forward: (B, i) @ (i, o)
        ops.append((gy.t(), x))         # grad weight: (o, B) @ (B, i)
        if k > 0:
            ops.append((gy, w))         # grad input: (B, o) @ (o, i)
    for a, b in ops * 20:
        a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            for a, b in ops:
                a @ b
        times.append((time.perf_counter() - t) / iters)
    return statistics.median(times)


class TextbookVAE(nn.Module):
    """The plain PyTorch VAE of tutorials: two heads, sigmoid output, F.binary_cross_entropy."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.mu, self.logvar = nn.Linear(D_IN, H), nn.Linear(H, Z), nn.Linear(H, Z)
        self.fc3, self.fc4 = nn.Linear(Z, H), nn.Linear(H, D_IN)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        h = F.gelu(self.fc1(x))
        mu, logvar = self.mu(h), self.logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.gelu(self.fc3(z)))), mu, logvar


class TextbookLoop:
    """The textbook training loop over a DataLoader: bernoulli draws, loss.backward(), opt.step()."""

    def __init__(self, x: torch.Tensor) -> None:
        torch.manual_seed(0)
        self.n, self.model = len(x), TextbookVAE()  # n: images an epoch
        self.loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x.view(len(x), -1)),
                                                  batch_size=B, shuffle=True)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def epoch(self) -> float:
        """Seconds of one epoch."""
        t = time.perf_counter()
        for (xb,) in self.loader:
            xb = torch.bernoulli(xb)
            recon, mu, logvar = self.model(xb)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (F.binary_cross_entropy(recon, xb, reduction="sum") + kl) / len(xb)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
        return time.perf_counter() - t


class _NoLog:
    """What `Trainer.run_epoch` writes its step records to: nothing is kept."""

    def write(self, record: dict) -> None:
        pass


class TrainerLoop:
    """vaekit's own Trainer for `cfg` in a throwaway run folder, on the first `limit` training items (all:
    None); `load_seconds`: making the Trainer (its data splits and model). The text and sound throughput
    benchmarks use it too."""

    def __init__(self, cfg: Any, tmp: Path, limit: int | None = None) -> None:
        from vaekit.training.loop import Trainer

        start = time.perf_counter()
        self.trainer, self.done = Trainer(cfg, tmp / "run"), 0
        self.load_seconds = time.perf_counter() - start
        if limit:
            self.trainer.train_data = self.trainer.train_data.take(limit)
            self.trainer.steps_per_epoch = -(-limit // cfg.train.batch_size)
        self.n = len(self.trainer.train_data)

    def epoch(self) -> float:
        """Seconds of one epoch, with subnormals flushed as `Trainer.fit` does."""
        from vaekit.fast import denormals

        self.done += 1
        with denormals.flush_denormals(self.trainer.cfg.train.flush_denormals):
            return self.trainer.run_epoch(self.done, _NoLog())["train_seconds"]

    def images_per_s(self, epochs: int) -> float:
        """Median images/s of `epochs` epochs after a warm-up epoch (compilation included)."""
        self.epoch()
        return statistics.median(self.n / self.epoch() for _ in range(epochs))


class VaekitLoop(TrainerLoop):
    """The reference model (or a preset) on dynamically binarized MNIST."""

    def __init__(self, model_cfg: dict, limit: int | None, tmp: Path, epochs: int, **train: object) -> None:
        from vaekit import Config, DataConfig, ModelConfig, TrainConfig

        super().__init__(Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(**model_cfg),
                                TrainConfig(epochs=epochs, batch_size=B, lr=1e-3, progress=False, **train)), tmp, limit)


def interleaved_rounds(args: argparse.Namespace, limit: int | None, res: dict) -> None:
    """Rounds of `args.epochs` epochs of each loop, alternating epoch by epoch (vaekit, textbook, vaekit, ...),
    then the roofline; each loop warmed up once before the first round. The roofline is also measured before
    the rounds."""
    from vaekit import DataConfig
    from vaekit.kinds import load_split

    x = load_split(DataConfig(dataset="mnist"), "train").x
    x = x[:limit] if limit else x
    repeats = 1 if args.smoke else 5
    rates: dict[str, list[float]] = {"vaekit": [], "textbook": [], "roofline": [B / roofline_step_seconds(repeats)]}
    with tempfile.TemporaryDirectory() as tmp:
        arms = {"vaekit": VaekitLoop({}, limit, Path(tmp), epochs=1 + args.rounds * args.epochs),
                "textbook": TextbookLoop(x)}
        for arm in arms.values():
            arm.epoch()  # warm-up, compilation included
        for _ in range(args.rounds):
            seconds = dict.fromkeys(arms, 0.0)
            for _ in range(args.epochs):  # epoch by epoch: the host's slow and fast spells fall on both loops
                for name, arm in arms.items():
                    seconds[name] += arm.epoch()
            for name, arm in arms.items():
                rates[name].append(args.epochs * arm.n / seconds[name])
            rates["roofline"].append(B / roofline_step_seconds(repeats))
    ratios = [v / t for v, t in zip(rates["vaekit"], rates["textbook"], strict=True)]
    roof = statistics.median(rates["roofline"])
    res.update(rounds=rates, ratios=ratios, ratio=statistics.median(ratios),
               vaekit_images_per_s=statistics.median(rates["vaekit"]),
               textbook_images_per_s=statistics.median(rates["textbook"]), roofline_images_per_s=roof,
               roofline_gflops=matmul_flops_per_image() * roof / 1e9,
               roofline_spread=(min(rates["roofline"]), max(rates["roofline"])))


def eval_roofline_minutes(repeats: int = 5, iters: int = 5) -> float:
    """Minutes of the decoder's matmuls alone for k = 5000 on 10k images, timed at the evaluation's own
    shapes (ROWS_PER_PASS rows per pass: larger, faster matmuls than the training step's)."""
    from vaekit.config import ModelConfig
    from vaekit.model import build_model
    from vaekit.objectives import samples_per_pass

    ROWS_PER_PASS = 100 * samples_per_pass(build_model(ModelConfig(), (1, 28, 28)), 100, 5000)  # 100 images a batch

    g = torch.Generator().manual_seed(0)
    z, w1, h, w2 = (torch.randn(s, generator=g) for s in ((ROWS_PER_PASS, Z), (Z, H), (ROWS_PER_PASS, H), (H, D_IN)))
    z @ w1, h @ w2
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(iters):
            z @ w1, h @ w2
        times.append((time.perf_counter() - t) / iters)
    return statistics.median(times) * (5000 * 10_000 / ROWS_PER_PASS) / 60


def eval_minutes(limit: int, k: int = 5000, extrapolate: bool = True) -> tuple[float, str]:
    """Minutes of `evaluate` at k on the test images, of a freshly built model, and how they were measured.
    With limit >= 10000, or extrapolate=False, the first `limit` images are timed whole, compilation
    included. Otherwise a first call on 100 images compiles the log-weight pass, then `limit` images give
    the steady rate: 10k images at that rate plus the compilation once."""
    from vaekit import DataConfig, ModelConfig, build_model, evaluate
    from vaekit.kinds import load_split

    torch.manual_seed(0)
    model = build_model(ModelConfig(), (1, 28, 28))
    data = load_split(DataConfig(dataset="mnist", binarize="dynamic"), "test")

    def seconds(n: int) -> float:
        t = time.perf_counter()
        evaluate(model, data.take(n), k=k, progress=False)
        return time.perf_counter() - t

    if limit >= len(data) or not extrapolate:
        n = min(limit, len(data))
        return seconds(n) / 60, f"{n:,} images timed whole, compilation included"
    first = seconds(100)
    steady = seconds(limit) / limit
    compile_s = max(0.0, first - 100 * steady)
    return (len(data) * steady + compile_s) / 60, (f"{limit} images timed after a warm-up; the warm-up's "
                                                   f"{compile_s:.1f} s of compilation counted once")


def peak_rss_mb(kind: str, args: argparse.Namespace) -> float:
    """Peak resident memory of a training or evaluation run, each in its own process."""
    # 500 images: the evaluation's memory is bounded per pass (MAX_PASS_BYTES), not by the number of images
    cmd = [sys.executable, __file__, "--_rss", kind, "--eval-limit", str(min(args.eval_limit, 500))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["rss_mb"]


def _rss_child(kind: str, eval_limit: int) -> None:
    if kind == "train":
        with tempfile.TemporaryDirectory() as tmp:
            VaekitLoop({}, None, Path(tmp), epochs=1).epoch()
    else:
        eval_minutes(eval_limit)
    # VmHWM: this process image's peak RSS (ru_maxrss would carry the parent's peak across fork + exec)
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"rss_mb": int(hwm.split()[1]) / 1024}))


def preset_images_per_s(model_cfg: dict, epochs: int, limit: int | None, **train: object) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        return VaekitLoop(model_cfg, limit, Path(tmp), 1 + epochs, **train).images_per_s(epochs)


def measure(args: argparse.Namespace) -> dict:
    limit = SMOKE_IMAGES if args.smoke else None
    res: dict = {"flops_per_image": matmul_flops_per_image(), "threads": torch.get_num_threads(),
                 "bf16_native": bf16_native()}
    interleaved_rounds(args, limit, res)
    if args.smoke:
        res["eval_minutes"], res["eval_how"] = eval_minutes(SMOKE_IMAGES, SMOKE_K, extrapolate=False)
        return res
    res["eval_minutes"], res["eval_how"] = eval_minutes(args.eval_limit)
    res["eval_roofline_minutes"] = eval_roofline_minutes()
    if res["bf16_native"]:  # without AVX512-BF16/AMX, bf16 matmuls are emulated and ~10x slower: not run
        res["vaekit_bf16_images_per_s"] = preset_images_per_s({}, 3, None, precision="bf16")
    res["conv_images_per_s"] = preset_images_per_s({"arch": "conv", "hidden": [256], "channels_base": 32}, 1, 5000)
    res["hierarchical_images_per_s"] = preset_images_per_s(
        {"hidden": [200, 200], "latent_dim": 100, "latent_layers": [50], "activation": "tanh"}, 3, None)
    res["train_rss_mb"], res["eval_rss_mb"] = peak_rss_mb("train", args), peak_rss_mb("eval", args)
    for prec in ("fp32", "bf16") if res["bf16_native"] else ():
        res[f"nll_{prec}"] = test_nll(prec, args.nll_epochs, args.nll_limit)
    return res


def bf16_native() -> bool:
    """Does this CPU multiply bfloat16 natively (AVX512-BF16 or AMX, as oneDNN reports)?"""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def test_nll(precision: str, epochs: int, limit: int) -> dict:
    """Does bf16 autocast hurt the likelihood? Train the reference model with the same seed at each
    precision, then evaluate both in float32: test ELBO and log p(x) at k = 5000 on `limit` images."""
    import vaekit
    from vaekit import Config, DataConfig, ModelConfig, TrainConfig
    from vaekit.kinds import load_split

    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(),
                 TrainConfig(epochs=epochs, batch_size=B, lr=1e-3, progress=False, precision=precision))
    with tempfile.TemporaryDirectory() as tmp:
        run = vaekit.train(cfg, out=Path(tmp) / "run")
    r = vaekit.evaluate(run.model, load_split(cfg.data, "test").take(limit), k=5000, progress=False)
    return {"elbo": r["elbo"], "log_likelihood": r["log_likelihood"]}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine() -> str:
    """The CPU, its core count and the vector units that decide matmul speed (AVX2, AVX-512, AMX)."""
    flags = next((line.split(":", 1)[1].split() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("flags")), []) if Path("/proc/cpuinfo").exists() else []
    units = [name for flag, name in (("avx512f", "AVX-512"), ("amx_tile", "AMX")) if flag in flags]
    units = units or [name for flag, name in (("avx2", "AVX2"),) if flag in flags]
    return (f"{cpu_name()}, {os.cpu_count()} cores{', ' if units else ''}{'/'.join(units)}; "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, Python {platform.python_version()}")


def table(res: dict, args: argparse.Namespace) -> str:
    n, r = args.rounds, res["rounds"]
    lo, hi = res["roofline_spread"]
    evaluation = (f"evaluation, k = {SMOKE_K}, first {SMOKE_IMAGES:,} test images" if args.smoke
                  else "evaluation, k = 5000, 10k test images")
    rows = [
        (f"**vaekit ÷ textbook, median of {n} interleaved rounds**", f"**{res['ratio']:.2f}×**",
         "target ≥ 1.8×; rounds: " + ", ".join(f"{x:.2f}×" for x in res["ratios"])),
        (evaluation, f"**{res['eval_minutes']:.2f} min**", f"{res['eval_how']}"
         + ("" if args.smoke else f"; target ≤ 4.5 min. The decoder's matmuls alone, at the evaluation's "
            f"shapes: {res['eval_roofline_minutes']:.2f} min, so the evaluation takes "
            f"{res['eval_minutes'] / res['eval_roofline_minutes']:.2f}× its matmuls")),
    ]
    per_round = zip(r["vaekit"], r["textbook"], r["roofline"][1:], strict=True)  # roofline[0]: before round 1
    rows += [(f"round {i + 1}: vaekit / textbook / roofline", f"{v:,.0f} / {t:,.0f} / {f:,.0f} images/s",
              f"{v / t:.2f}×") for i, (v, t, f) in enumerate(per_round)]
    v = res["vaekit_images_per_s"]
    rows += [
        ("matmul roofline of the reference model's step", f"{res['roofline_gflops']:.1f} GFLOP/s = "
         f"{res['roofline_images_per_s']:,.0f} images/s", f"median of {n + 1} measurements ({lo:,.0f}–{hi:,.0f})"),
        ("training FLOPs per image (matmuls, counted from the shapes)", f"{res['flops_per_image'] / 1e6:.2f} MFLOP",
         f"3·forward would be {3 * forward_flops_per_image() / 1e6:.2f}"),
        ("vaekit training, reference MLP (median of the rounds)", f"{v:,.0f} images/s = "
         f"{v * res['flops_per_image'] / 1e9:.1f} GFLOP/s", f"{forward_count_share(v, res):.0%} of the roofline by "
         f"the 3·forward count, {v / res['roofline_images_per_s']:.0%} by the exact count"),
        ("textbook PyTorch loop, same model (median of the rounds)", f"{res['textbook_images_per_s']:,.0f} images/s",
         ""),
    ]
    if not args.smoke:
        rows += extra_rows(res, args)
    lines = ["| measure | value | note |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def extra_rows(res: dict, args: argparse.Namespace) -> list[tuple[str, str, str]]:
    """bf16, the conv and hierarchical presets, the bf16 likelihood check and peak memory (full runs only)."""
    name = "vaekit training, reference MLP, `--precision bf16`"
    if "vaekit_bf16_images_per_s" in res:
        b = res["vaekit_bf16_images_per_s"]
        rows = [(name, f"{b:,.0f} images/s", f"{b / res['vaekit_images_per_s']:.2f}× float32; "
                 f"{b / res['textbook_images_per_s']:.2f}× textbook")]
    else:
        rows = [(name, "not run", "this CPU has no native bfloat16 matmul (AVX512-BF16 / AMX): emulated, ~10× slower")]
    rows += [("conv preset (one epoch of 5k images after a warm-up)", f"{res['conv_images_per_s']:,.0f} images/s",
              "no target"),
             ("hierarchical preset (IWAE 2-layer shapes, tanh)", f"{res['hierarchical_images_per_s']:,.0f} images/s",
              "no target")]
    if "nll_fp32" in res:
        a, b = res["nll_fp32"], res["nll_bf16"]
        rows.append((f"test NLL after {args.nll_epochs} epochs, fp32 / bf16 (k = 5000, first {args.nll_limit} test "
                     "images)", f"{-a['log_likelihood']:.2f} / {-b['log_likelihood']:.2f} nats",
                     f"test ELBO {a['elbo']:.2f} / {b['elbo']:.2f}"))
    rows.append(("peak RSS: training / evaluation", f"{res['train_rss_mb']:.0f} MB / {res['eval_rss_mb']:.0f} MB",
                 "one epoch / an evaluation of 500 images (memory is bounded per pass)"))
    return rows


def section(text: str, args: argparse.Namespace) -> str:
    """The doc's throughput section: command, machine, method and the table."""
    extra = "".join(f" --{k} {v}" for k, v, d in (("rounds", args.rounds, 3), ("epochs", args.epochs, 2))
                    if v != d)
    cmd = f"VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --write{extra}"
    return (f"Command: `{cmd}`  \nMachine: {machine()}; date {date.today()}.  \n{args.rounds} interleaved "
            f"rounds of {args.epochs} epoch{'s' if args.epochs > 1 else ''} of each loop, alternating epoch by "
            f"epoch, after one warm-up epoch each; every figure measured in the same run.\n\n{text}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (vaekit, then the textbook loop)")
    p.add_argument("--epochs", type=int, default=2, help="epochs of each loop per round")
    p.add_argument("--eval-limit", type=int, default=10_000, help="test images timed at k = 5000 (default: all "
                   "10k; fewer: a steady rate after a warm-up, extrapolated)")
    p.add_argument("--nll-epochs", type=int, default=10, help="epochs of the fp32-vs-bf16 likelihood check")
    p.add_argument("--nll-limit", type=int, default=1000, help="test images of the fp32-vs-bf16 likelihood check")
    p.add_argument("--smoke", action="store_true", help=f"a check that it runs, in under a minute: the rounds on "
                   f"{SMOKE_IMAGES} training images, the evaluation at k = {SMOKE_K} on {SMOKE_IMAGES} test images, "
                   "nothing else; never written to the doc")
    p.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    p.add_argument("--_rss", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._rss:
        _rss_child(args._rss, args.eval_limit)
        return
    res = measure(args)
    text = table(res, args)
    print(text)
    print(json.dumps(res))
    if args.write and not args.smoke:
        write_section("throughput", section(text, args))


if __name__ == "__main__":
    main()
