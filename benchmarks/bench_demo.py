"""Demo wall time: `tunegate run examples/quick.yaml` (`make demo`) into a fresh store, then again.

The first run does everything a new user's first `make demo` does after the
install (the model already assembled): it trains the LoRA adapters on the spot
and makes every model call. The second is a cached rerun (zero model calls).
Prints a table and a final line of ratios; writes reports/bench/demo.json.

Usage: .venv/bin/python benchmarks/bench_demo.py [--config examples/quick.yaml]
(examples/demo.yaml is the six-task demo, `make demo-full`.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(config: Path, store: Path, reports: Path) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", str(config),
                           "--store", str(store), "--reports", str(reports)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"demo failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall, done.stdout + done.stderr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "examples" / "quick.yaml"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        first, out1 = run(Path(args.config), tmp / "store", tmp / "reports")
        second, out2 = run(Path(args.config), tmp / "store", tmp / "reports")
    calls = re.findall(r"(\d+) model calls", out2)
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"{'run':<26} {'wall s':>8}")
    print(f"{'first (trains adapters)':<26} {first:>8.1f}")
    print(f"{'cached rerun':<26} {second:>8.1f}   model calls: {calls[0] if calls else '?'}")
    dest = ROOT / "reports" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "demo.json").write_text(json.dumps(
        {"config": args.config, "first_s": first, "cached_s": second, "machine": cpu,
         "first_output_tail": out1[-2000:]}, indent=2))
    print(f"ratios: demo_minutes={first / 60:.2f} cached/first={second / first:.3f} "
          f"(target: demo < 10 minutes on 2 cores) [{cpu}]")


if __name__ == "__main__":
    main()
