"""Time ``paired_bootstrap_many`` on 10k examples x 20 variants x 2000 resamples.

Run: ``.venv/bin/python benchmarks/bench_stats.py``. Prints the best of a few
repeats and a final ``ratio`` line: seconds / target (2 s); below 1 passes.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from harness.analysis.stats import paired_bootstrap_many

TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=20)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = np.random.default_rng(0).normal(0.02, 0.5, size=(args.examples, args.variants))
    times = []
    for rep in range(args.repeats):
        start = time.perf_counter()
        cis = paired_bootstrap_many(data, np.random.default_rng(rep), args.resamples)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(f"paired_bootstrap_many {args.examples} x {args.variants} x {args.resamples}: "
          f"best {best:.3f} s, median {float(np.median(times)):.3f} s "
          f"({len(cis)} intervals, first [{cis[0].low:+.4f}, {cis[0].high:+.4f}])")
    print(f"ratio {best / TARGET_S:.3f} (target < 1: under {TARGET_S:g} s)")
    return 0 if best < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
