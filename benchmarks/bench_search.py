"""Prompt search cost: requests and seconds per candidate, and the cached rerun.

Runs a prompt search (few-shot count x shot selection x calibration) on the
demo's support_routing task into a fresh store, then the same config again.
The first run's search record gives requests and wall seconds; per candidate
is that over the candidates tried. The rerun must make zero model calls (every
candidate's dev results are cached in the store).
Prints a table and a final line of ratios; writes reports/bench/search.json.

Usage: .venv/bin/python benchmarks/bench_search.py [--model embedded] [--budget 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.runner import Runner
from harness.store import Store

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
name: bench_search
seed: 13
tasks: [{task}]
variants: [{zero_shot}, {few_shot}]
models: [{model}]
splits: [dev, test]
limit: {{dev: {dev}, test: 20}}
prompt_search:
  variants: [few_shot]
  axes:
    shots: [0, 4, 8]
    shot_selection: [stratified, random]
    calibrate: [false, true]
  budget: {{dev_requests: {budget}}}
"""


def timed_run(config: Path, store: Store) -> tuple[float, int, str]:
    start = time.perf_counter()
    result = Runner(load_config(config), store, BackendOptions(seed=13)).run()
    return time.perf_counter() - start, result.model_calls, result.run_id


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--budget", type=int, default=600)
    ap.add_argument("--dev", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        config = tmp / "search.yaml"
        config.write_text(CONFIG.format(
            task=ROOT / "tasks" / "support_routing.yaml",
            zero_shot=ROOT / "baselines" / "zero_shot.yaml",
            few_shot=ROOT / "baselines" / "few_shot.yaml", model=args.model,
            budget=args.budget, dev=args.dev))
        store = Store(tmp / "store")
        first_s, first_calls, run1 = timed_run(config, store)
        second_s, second_calls, _ = timed_run(config, store)
        (record,) = store.searches(run1).values()
        store.close()
    tried = sum(1 for r in record["rounds"][0]["ranking"])
    per_req = record["requests"] / tried
    per_s = record["seconds"] / tried
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    print(f"{'what':<34} {'value':>10}")
    print(f"{'candidates tried':<34} {tried:>10}")
    print(f"{'rounds':<34} {len(record['rounds']):>10}")
    print(f"{'search dev requests':<34} {record['requests']:>10}")
    print(f"{'search seconds':<34} {record['seconds']:>10.1f}")
    print(f"{'requests per candidate':<34} {per_req:>10.1f}")
    print(f"{'seconds per candidate':<34} {per_s:>10.2f}")
    print(f"{'first run: wall s / model calls':<34} {first_s:>10.1f} / {first_calls}")
    print(f"{'cached rerun: wall s / model calls':<34} {second_s:>10.1f} / {second_calls}")
    dest = ROOT / "reports" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "search.json").write_text(json.dumps(
        {"model": args.model, "budget": args.budget, "candidates": tried,
         "record": record, "first_s": first_s, "first_calls": first_calls,
         "cached_s": second_s, "cached_calls": second_calls, "machine": cpu}, indent=2))
    print(f"ratios: seconds_per_candidate={per_s:.2f} requests_per_candidate={per_req:.1f} "
          f"cached_rerun_calls={second_calls} cached/first={second_s / first_s:.3f} "
          f"(targets: cached_rerun_calls=0) [{cpu}, {args.model}]")


if __name__ == "__main__":
    main()
