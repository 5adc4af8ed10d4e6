"""Harness overhead and cached rerun on the embedded model.

Measures, in one process on one machine:
  1. a bare loop: the embedded backend's label scoring called directly on the
     prompts a run would send (no store, no cache, no threads, no scoring);
  2. `tunegate run` of the same config into a fresh store (cache, records,
     scoring, statistics and the report included);
  3. the same `tunegate run` again: every response from the cache.
Prints a table and a final line of ratios; writes reports/bench/overhead.json.

Usage: .venv/bin/python benchmarks/bench_overhead.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from harness.backends import BackendOptions, ScoreRequest, create, parse_spec
from harness.config import load_config
from harness.predict import label_continuations
from harness.report import write_report
from harness.runner import Runner
from harness.sampling import sample_split
from harness.store import Store
from harness.variants.shots import select_shots

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp: Path, limit: int) -> Path:
    cfg = tmp / "bench.yaml"
    cfg.write_text(
        f"name: bench\nseed: 13\ntasks: [{ROOT / 'tasks/support_routing.yaml'}]\n"
        f"variants: [{ROOT / 'baselines/zero_shot.yaml'}, {ROOT / 'baselines/few_shot.yaml'}]\n"
        f"models: [embedded]\nsplits: [test]\nlimit: {{test: {limit}}}\n")
    return cfg


def bare_loop(cfg_path: Path) -> tuple[float, int]:
    cfg = load_config(cfg_path)
    start = time.perf_counter()
    backend = create(parse_spec("embedded"), BackendOptions(seed=cfg.spec.seed))
    n = 0
    for task in cfg.tasks:
        labels = list(task.spec.labels)
        for variant in cfg.variants:
            shots = select_shots(task, variant, cfg.spec.seed)
            for ex in sample_split(task, "test", cfg.spec.limit.get("test"), cfg.spec.seed):
                prompt = variant.render(task, ex.input, shots)
                backend.score(ScoreRequest(prompt, label_continuations(prompt, labels)))
                n += 1
    backend.close()
    return time.perf_counter() - start, n


def tunegate_run(cfg_path: Path, store_dir: Path, reports: Path) -> tuple[float, int, int]:
    start = time.perf_counter()
    cfg = load_config(cfg_path)
    store = Store(store_dir)
    result = Runner(cfg, store, BackendOptions(seed=cfg.spec.seed)).run()
    write_report(store, result.run_id, reports)
    store.close()
    return time.perf_counter() - start, result.records, result.model_calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=40, help="test examples per variant")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        cfg = _config(tmp, args.limit)
        bare, n = bare_loop(cfg)
        first, recs, calls = tunegate_run(cfg, tmp / "store", tmp / "reports")
        cached, recs2, calls2 = tunegate_run(cfg, tmp / "store", tmp / "reports")
    rows = [("bare loop (backend.score)", bare, n, n),
            ("tunegate run, fresh store", first, recs, calls),
            ("tunegate run, cached", cached, recs2, calls2)]
    print(f"{'what':<28} {'wall s':>8} {'examples':>9} {'model calls':>12} {'ms/example':>11}")
    for name, secs, ex, c in rows:
        print(f"{name:<28} {secs:>8.2f} {ex:>9} {c:>12} {1000 * secs / max(ex, 1):>11.1f}")
    overhead = first / bare - 1
    out = {"examples": n, "bare_s": bare, "run_s": first, "cached_s": cached,
           "overhead": overhead, "cached_vs_first": cached / first, "cached_calls": calls2}
    dest = ROOT / "reports" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "overhead.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"ratios: tunegate/bare = {first / bare:.3f} (overhead {100 * overhead:+.1f}%, "
          f"target < 5%); cached/first = {cached / first:.3f} with {calls2} model calls")


if __name__ == "__main__":
    main()
