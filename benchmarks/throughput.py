"""Training and evaluation speed of vaekit against this machine's matmul roofline and a textbook loop.

    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --write      # ~8 minutes here
    VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --quick      # smoke test

Reference model (issue 3): MLP 784-400-20, Bernoulli, dynamic binarization, batch 128, Adam 1e-3,
MNIST's 50k training images. Everything is measured in one run of this script, so the ratios compare
like with like on a noisy machine; throughputs are medians over epochs (the first one is warm-up).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F
from docsection import write_section
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
B, D_IN, H, Z = 128, 784, 400, 20
# (rows, in, out) of the reference model's four linear layers at batch B
LAYERS = [(B, D_IN, H), (B, H, 2 * Z), (B, Z, H), (B, H, D_IN)]


def forward_flops_per_image() -> int:
    return sum(2 * i * o for _, i, o in LAYERS)


def bf16_row(res: dict) -> tuple[str, str, str]:
    name = "vaekit training, reference MLP, `--precision bf16`"
    if "vaekit_bf16_images_per_s" not in res:
        return name, "not run", "this CPU has no native bfloat16 matmul (AVX512-BF16 / AMX): emulated, ~10× slower"
    v = res["vaekit_bf16_images_per_s"]
    return name, f"{v:,.0f} images/s", (f"{issue_share(v, res):.0%} of the float32 roofline by the issue's count, "
                                         f"{v / res['roofline_images_per_s']:.0%} by the exact count; "
                                         f"{v / res['textbook_images_per_s']:.2f}× textbook")


def issue_share(images_per_s: float, res: dict) -> float:
    """Achieved FLOP/s over the roofline's, as issue 3 defines it: images/s times 3·forward FLOPs an
    image (≈ 3.9 MFLOP here), over the roofline measured on the step's exact matmuls. The exact count
    (`matmul_flops_per_image`, 3.28 MFLOP) leaves out the first layer's input gradient, which no
    training step computes, so it gives the lower, stricter share."""
    return images_per_s * 3 * forward_flops_per_image() / (res["roofline_gflops"] * 1e9)


def matmul_flops_per_image() -> int:
    """Exact matmul FLOPs of one training step per image: forward 2·in·out per layer, backward the
    weight gradient (2·in·out) for every layer and the input gradient for all but the first."""
    return 2 * forward_flops_per_image() + sum(2 * i * o for _, i, o in LAYERS[1:])


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


def textbook_images_per_s(x: torch.Tensor, epochs: int) -> list[float]:
    torch.manual_seed(0)
    model, loader = TextbookVAE(), torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x.view(len(x), -1)), batch_size=B, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rates = []
    for _ in range(epochs):
        t = time.perf_counter()
        for (xb,) in loader:
            xb = torch.bernoulli(xb)
            recon, mu, logvar = model(xb)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
            loss = (F.binary_cross_entropy(recon, xb, reduction="sum") + kl) / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        rates.append(len(x) / (time.perf_counter() - t))
    return rates


def vaekit_epochs(model_cfg: dict, epochs: int, limit: int | None, **train: object) -> list[dict]:
    """Epoch records of the real Trainer (a throwaway run folder)."""
    from vaekit import denormals
    from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
    from vaekit.training.loop import Trainer

    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(**model_cfg),
                 TrainConfig(epochs=epochs, batch_size=B, lr=1e-3, progress=False, **train))
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")
        if limit:
            trainer.train_data = trainer.train_data.take(limit)
            trainer.steps_per_epoch = -(-limit // B)
        from vaekit.training.metrics import MetricsLog

        log = MetricsLog(Path(tmp) / "m.jsonl")
        with denormals.flush_denormals(cfg.train.flush_denormals):  # as Trainer.fit does
            records = [trainer.run_epoch(e, log) for e in range(1, epochs + 1)]
        log.close()
    return records


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


def eval_minutes_10k(limit: int) -> tuple[float, str]:
    """Minutes of `evaluate` at k = 5000 on the 10k test images, of a freshly built model, and how they were
    measured. limit = 10000 times the whole evaluation, compilation included. A smaller limit times a
    first call on 100 images (it compiles the log-weight pass), then `limit` images at the steady rate:
    10k images at that rate plus the compilation once (which timing only the first call on `limit` images
    and scaling it up would count 10k/limit times)."""
    from vaekit.config import DataConfig, ModelConfig
    from vaekit.data import load_split
    from vaekit.evaluation import evaluate
    from vaekit.model import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(), (1, 28, 28))
    data = load_split(DataConfig(dataset="mnist", binarize="dynamic"), "test")

    def seconds(n: int) -> float:
        t = time.perf_counter()
        evaluate(model, data.take(n), k=5000, progress=False)
        return time.perf_counter() - t

    if limit >= len(data):
        return seconds(len(data)) / 60, f"all {len(data):,} images timed"
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
        vaekit_epochs({}, 1, None)
    else:
        eval_minutes_10k(eval_limit)
    # VmHWM: this process image's peak RSS (ru_maxrss would carry the parent's peak across fork + exec)
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"rss_mb": int(hwm.split()[1]) / 1024}))


def measure(args: argparse.Namespace) -> dict:
    from vaekit.config import DataConfig
    from vaekit.data import load_split

    limit = 10_000 if args.quick else None
    # The roofline is measured before, between and after the training measurements and the median taken,
    # so that a burst of load from elsewhere on this shared machine cannot skew the ratio on its own.
    roof = [roofline_step_seconds(repeats=3 if args.quick else 5)]
    flops = matmul_flops_per_image()
    res: dict = {"flops_per_image": flops, "threads": torch.get_num_threads(), "bf16_native": bf16_native()}
    x = load_split(DataConfig(dataset="mnist"), "train").x
    x = x[:limit] if limit else x
    vaekit_rates, textbook_rates = [], []
    for _ in range(1 if args.quick else 2):  # vaekit and the textbook loop alternate: same conditions for both
        vaekit_rates += [r["images_per_s"] for r in vaekit_epochs({}, args.epochs, limit)[1:]]
        textbook_rates += textbook_images_per_s(x, args.epochs)[1:]
        roof.append(roofline_step_seconds(repeats=3 if args.quick else 5))
    step_s = statistics.median(roof)
    res.update(roofline_images_per_s=B / step_s, roofline_gflops=flops * B / step_s / 1e9,
               roofline_spread=(B / max(roof), B / min(roof)))
    res["vaekit_images_per_s"] = res["vaekit_fp32_images_per_s"] = statistics.median(vaekit_rates)
    res["textbook_images_per_s"] = statistics.median(textbook_rates)
    if res["bf16_native"]:  # without AVX512-BF16/AMX, bf16 matmuls are emulated and ~10x slower: not run
        recs = vaekit_epochs({}, args.epochs, limit, precision="bf16")
        res["vaekit_bf16_images_per_s"] = statistics.median(r["images_per_s"] for r in recs[1:] or recs)
    res["eval_minutes_10k"], res["eval_how"] = eval_minutes_10k(min(args.eval_limit, 200) if args.quick
                                                                else args.eval_limit)
    res["eval_roofline_minutes_10k"] = eval_roofline_minutes()
    for name, model_cfg in (("conv", {"arch": "conv", "hidden": [256], "channels_base": 32}),
                            ("hierarchical", {"hidden": [200, 200], "latent_dim": 100, "latent_layers": [50],
                                              "activation": "tanh"})):
        n_epochs = 2 if name == "conv" else args.epochs
        recs = vaekit_epochs(model_cfg, n_epochs, 5000 if name == "conv" else limit)
        res[f"{name}_images_per_s"] = statistics.median(r["images_per_s"] for r in recs[1:] or recs)
    if not args.quick:
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
    from vaekit.config import Config, DataConfig, ModelConfig, TrainConfig
    from vaekit.data import load_split
    from vaekit.evaluation import evaluate

    cfg = Config(DataConfig(dataset="mnist", binarize="dynamic"), ModelConfig(),
                 TrainConfig(epochs=epochs, batch_size=B, lr=1e-3, progress=False, precision=precision))
    with tempfile.TemporaryDirectory() as tmp:
        run = vaekit.train(cfg, out=Path(tmp) / "run")
    test = load_split(cfg.data, "test").take(limit)
    r = evaluate(run.model, test, k=5000, progress=False)
    return {"elbo": r["elbo"], "log_likelihood": r["log_likelihood"]}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def table(res: dict, args: argparse.Namespace) -> str:
    ratio = res["vaekit_images_per_s"] / res["roofline_images_per_s"]
    lo, hi = res["roofline_spread"]
    rows = [
        ("matmul roofline of the reference model's step", f"{res['roofline_gflops']:.1f} GFLOP/s = "
         f"{res['roofline_images_per_s']:,.0f} images/s", f"median of {2 if args.quick else 3} measurements "
         f"({lo:,.0f}–{hi:,.0f} images/s)"),
        ("training FLOPs per image (matmuls, counted from the shapes)", f"{res['flops_per_image'] / 1e6:.2f} MFLOP",
         "3·forward, the issue's count, would be 3.91"),
        ("vaekit training, reference MLP", f"{res['vaekit_images_per_s']:,.0f} images/s = "
         f"{res['vaekit_images_per_s'] * res['flops_per_image'] / 1e9:.1f} GFLOP/s",
         f"{issue_share(res['vaekit_images_per_s'], res):.0%} of the roofline by the issue's count (3·forward, "
         f"3.91 MFLOP an image; target ≥ 70%); {ratio:.0%} by the exact count"),
        bf16_row(res),
        ("textbook PyTorch loop (same model)", f"{res['textbook_images_per_s']:,.0f} images/s",
         f"vaekit ÷ textbook = {res['vaekit_images_per_s'] / res['textbook_images_per_s']:.2f}× (target ≥ 1.8×)"),
        ("evaluation, k = 5000, 10k test images", f"{res['eval_minutes_10k']:.2f} min ({res['eval_how']})",
         "target ≤ 4.5 min; the decoder's matmuls alone, timed at the evaluation's "
         f"shapes: {res['eval_roofline_minutes_10k']:.2f} min, so the evaluation takes "
         f"{res['eval_minutes_10k'] / res['eval_roofline_minutes_10k']:.2f}× its matmuls (the target's 4.5 / 3.6 "
         "= 1.25×)"),
        ("conv preset (2 epochs of 5k images)", f"{res['conv_images_per_s']:,.0f} images/s", "no target"),
        ("hierarchical preset (IWAE 2-layer shapes, tanh)", f"{res['hierarchical_images_per_s']:,.0f} images/s",
         "no target"),
    ]
    if "nll_fp32" in res:
        a, b = res["nll_fp32"], res["nll_bf16"]
        rows.append((f"test NLL after {args.nll_epochs} epochs, fp32 / bf16 (k = 5000, first {args.nll_limit} test "
                     "images)", f"{-a['log_likelihood']:.2f} / {-b['log_likelihood']:.2f} nats",
                     f"test ELBO {a['elbo']:.2f} / {b['elbo']:.2f}"))
    if "train_rss_mb" in res:
        rows.append(("peak RSS: training / evaluation", f"{res['train_rss_mb']:.0f} MB / {res['eval_rss_mb']:.0f} MB",
                     "one epoch / an evaluation of 500 images (memory is bounded per pass)"))
    lines = ["| measure | value | note |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def write_doc(text: str, args: argparse.Namespace) -> None:
    cmd = "VAEKIT_DATA=../shared/data .venv/bin/python benchmarks/throughput.py --write" + (
        f" --epochs {args.epochs}" if args.epochs != 4 else "")
    block = (f"## Throughput (issue 3)\n\nCommand: `{cmd}`  \nMachine: {cpu_name()}, "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, Python "
             f"{platform.python_version()}; date {date.today()}.  \nMedians over epochs 2–{args.epochs} of two "
             "alternating rounds (vaekit, textbook, vaekit, textbook); every figure measured in the same run."
             f"\n\n{text}")
    write_section("throughput", block)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=4, help="training epochs per measurement (first is warm-up)")
    p.add_argument("--eval-limit", type=int, default=10_000, help="test images timed at k = 5000 (default: all "
                   "10k; fewer: a steady rate after a warm-up, extrapolated)")
    p.add_argument("--nll-epochs", type=int, default=10, help="epochs of the fp32-vs-bf16 likelihood check")
    p.add_argument("--nll-limit", type=int, default=1000, help="test images of the fp32-vs-bf16 likelihood check")
    p.add_argument("--quick", action="store_true", help="a smoke test: 10k images, fewer repeats")
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
    if args.write and not args.quick:
        write_doc(text, args)


if __name__ == "__main__":
    main()
