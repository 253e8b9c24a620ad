#!/usr/bin/env bash
# Create .venv and install vaekit with its dev tools. torch is installed first and explicitly:
# torch==2.13.0 is the CPU build (an open range would pull a multi-GB CUDA build). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==${VAEKIT_TORCH:-2.13.0}"
.venv/bin/python -m pip install -q -e ".[dev]"
