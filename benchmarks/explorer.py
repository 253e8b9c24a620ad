"""Decode latency of the explorer: the HTTP round trip of POST /api/decode, and the model call alone.

    .venv/bin/python benchmarks/explorer.py [-n 1000] [--run RUN_DIR]

Without --run it uses the reference MNIST model (MLP 784-400-20, Bernoulli): untrained weights cost the
same to run as trained ones, so no data or training is needed. The server is the real app under uvicorn
on 127.0.0.1, in a thread of this process; the client is http.client on one keep-alive connection.
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch


def reference_state(n_images: int = 1000) -> Any:
    """An ExplorerState for the MNIST-sized reference MLP with random weights and random images."""
    from vaekit.config import ModelConfig
    from vaekit.explore.state import ExplorerState
    from vaekit.model import build_model

    torch.manual_seed(0)
    model = build_model(ModelConfig(), (1, 28, 28)).eval()
    return ExplorerState(model, torch.rand(n_images, 1, 28, 28))


def _timings(fn: Callable[[int], Any], n: int, warmup: int) -> list[float]:
    """Milliseconds of each of n calls fn(k), after `warmup` untimed ones."""
    for k in range(warmup):
        fn(k)
    out = []
    for k in range(n):
        t0 = time.perf_counter()
        fn(k)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100)
    return {"median_ms": statistics.median(ms), "p90_ms": q[89], "p99_ms": q[98], "n": len(ms)}


def start_server(app: Any) -> tuple[Any, threading.Thread, int]:
    """uvicorn serving `app` on a free port of 127.0.0.1 in a daemon thread; returns (server, thread, port)."""
    import uvicorn

    from vaekit.cli.explore import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the explorer server did not start")
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


def measure(state: Any, n: int = 1000, warmup: int = 50) -> dict[str, Any]:
    """Time n decodes of random latent vectors inside the slider ranges: the model call, then HTTP."""
    from vaekit.explore.app import create_app

    gen = torch.Generator().manual_seed(1)
    lo, hi = state.ranges[:, 0], state.ranges[:, 1]
    zs = [lo + (hi - lo) * torch.rand(state.latent_dim, generator=gen) for _ in range(n + warmup)]
    model = state.model
    with torch.no_grad():
        model_ms = _timings(lambda k: model.decode(zs[k][None]), n, warmup)
    server, thread, port = start_server(create_app(state))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        def request(k: int) -> None:
            conn.request("POST", "/api/decode", body=json.dumps({"z": zs[k].tolist()}),
                         headers={"Content-Type": "application/json"})
            res = conn.getresponse()
            body = res.read()
            if res.status != 200:
                raise RuntimeError(f"/api/decode answered {res.status}: {body[:200]!r}")

        http_ms = _timings(request, n, warmup)
    finally:
        conn.close()
        server.should_exit = True
        thread.join(10)
    return {"model_call": summary(model_ms), "round_trip": summary(http_ms), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "cpu": platform.processor() or "?"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="benchmarks/explorer.py", description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=1000, help="timed requests (default: 1000)")
    p.add_argument("--run", help="a run folder to time instead of the reference MNIST MLP")
    args = p.parse_args(argv)
    if args.run:
        from vaekit.explore.state import ExplorerState
        from vaekit.runs import load_run

        state = ExplorerState.from_run(load_run(args.run), limit=1000)
    else:
        state = reference_state()
    res = measure(state, args.n)
    for name in ("model_call", "round_trip"):
        s = res[name]
        print(f"{name:>10}: median {s['median_ms']:.3f} ms  p90 {s['p90_ms']:.3f} ms  p99 {s['p99_ms']:.3f} ms "
              f"({s['n']} calls)")
    print(f"torch {res['torch']} with {res['torch_threads']} threads, Python {res['python']}")
    return res


if __name__ == "__main__":
    main()
