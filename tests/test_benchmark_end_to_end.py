"""benchmarks/end_to_end.py --smoke runs `vaekit train` as whole processes, eager and auto, and prints its table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_smoke_mode_times_whole_training_processes(tmp_path):
    out = tmp_path / "times.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "end_to_end.py"), "--smoke", "--json", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    times = json.loads(out.read_text())["times"]
    assert sorted(times) == ["1/auto", "1/eager"]
    assert all(0.5 < t[0] < 120 for t in times.values())  # a process that starts, trains an epoch and exits
    row = next(ln for ln in done.stdout.splitlines() if ln.startswith("| 1 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    eager, auto = times["1/eager"][0], times["1/auto"][0]  # one round: its times are the medians
    assert cells[1:5] == [f"{eager:.1f} s", "–", f"{auto:.1f} s", f"{auto / eager:.2f}×"]
