"""The `explore` subcommand. The server packages are imported only when it runs, so `vaekit --help`
stays fast and works without them."""

from __future__ import annotations

import argparse
import importlib.util
import socket
from typing import Any

from vaekit.cli.common import run_parser
from vaekit.errors import ConfigError, VaekitError

# import name -> the pip package that provides it
SERVER_PACKAGES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}


def require_server_packages() -> None:
    """Raise a VaekitError naming the packages to install when any of the server's is missing."""
    missing = []
    for module, package in SERVER_PACKAGES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a module set to None in sys.modules (as tests do) counts as missing
            found = False
        if not found:
            missing.append(package)
    if missing:
        raise VaekitError(f"vaekit explore needs {', '.join(missing)}: pip install 'vaekit[explore]' "
                          f"(or pip install {' '.join(missing)})")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound here so a busy port is a clear error (and --port 0 picks a free one)."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} must be between 0 and 65535")
    sock = None
    try:
        family, kind, proto, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        if sock is not None:
            sock.close()
        raise VaekitError(f"cannot listen on {host}:{port}: {e.strerror or e} "
                          "(choose another --port or --host)") from None
    return sock


def cmd_explore(args: argparse.Namespace) -> None:
    require_server_packages()
    import uvicorn

    from vaekit.explore.app import create_app

    if args.limit < 1:
        raise ConfigError(f"--limit {args.limit} must be >= 1")
    sock = bind(args.host, args.port)
    try:
        app = create_app(args.run_dir, which=args.which, device=args.device, limit=args.limit)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"vaekit explorer on http://{shown}:{port}/  (Ctrl+C stops it)", flush=True)
        if host not in ("127.0.0.1", "::1", "localhost"):
            print("note: the explorer is reachable from other machines on this address", flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()


def register(sub: Any) -> None:
    p = run_parser(sub, "explore", "serve a live latent explorer in the browser: sliders, interpolation, "
                   "uploads or typed sentences, the latent map (needs the explore extra)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine "
                   "only; 0.0.0.0 serves the network)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument("--limit", type=int, default=10000, help="test items on the latent map, and the neighbours "
                   "of a typed sentence (default: 10000)")
    p.set_defaults(func=cmd_explore)
