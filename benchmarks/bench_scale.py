"""Harness cost at scale: 1k and 10k examples, next to the model's own time.

Measures, in one process on one machine:
  1. the embedded model's time per example (label scoring, a small sample):
     the "model time" every harness cost is compared with;
  2. `tunegate run` on 1k and 10k generated examples x 2 variants with the
     in-process ``fake`` backend (model time ~0, so the wall time *is* the
     harness: rendering, caching, records, scoring), then the same run again
     from the cache;
  3. the report of each run (statistics, plots, HTML, side-by-side): the
     target is < 10 s for 10k examples.
Prints a table and a final line of ratios; writes reports/bench/scale.json.

Usage: .venv/bin/python benchmarks/bench_scale.py [--sizes 1000,10000] [--model-sample 20]
"""

from __future__ import annotations

import argparse
import json
import random
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

ROOT = Path(__file__).resolve().parents[1]
LABELS = ["ORCA", "TIDE", "KELP", "REEF", "GULL", "MOSS", "DUNE", "FERN"]
WORDS = ["parcel", "invoice", "refund", "late", "damaged", "address", "customs", "driver",
         "pickup", "portal", "label", "weight", "pallet", "quote", "claim", "tracking"]


def _project(root: Path, n: int) -> Path:
    rng = random.Random(n)
    rows = []
    for i in range(n + 200):
        gold = LABELS[i % len(LABELS)]
        text = " ".join(rng.choice(WORDS) for _ in range(18))
        # The fake backend reads a label near the end of the input: about 60% right.
        hint = gold if rng.random() < 0.6 else rng.choice(LABELS)
        rows.append(json.dumps({"id": f"e{i}", "text": f"{text} {hint}", "label": gold}))
    (root / "data.jsonl").write_text("\n".join(rows) + "\n")
    (root / "task.yaml").write_text(
        "name: scale\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        "target: label}\n  path: data.jsonl\n  split_rule: {seed: 1, dev: 0.02, test: 0.97}\n"
        f"labels: [{', '.join(LABELS)}]\n")
    (root / "a.j2").write_text("Message: {{ input }}\nQueue:")
    (root / "b.j2").write_text("Route this message.\nMessage: {{ input }}\nQueue:")
    (root / "a.yaml").write_text("name: plain\ntemplate: a.j2\n")
    (root / "b.yaml").write_text("name: instructed\ntemplate: b.j2\n")
    cfg = root / "run.yaml"
    cfg.write_text(f"name: scale{n}\nseed: 3\ntasks: [task.yaml]\nvariants: [a.yaml, b.yaml]\n"
                   f"models: ['fake:keyword']\nsplits: [test]\nlimit: {{test: {n}}}\n"
                   "concurrency: 4\n")
    return cfg


def model_seconds_per_example(sample: int) -> float:
    """The embedded model's label-scoring time per example (support_routing, zero-shot)."""
    cfg = load_config(_real_config())
    task, variant = cfg.tasks[0], cfg.variants[0]
    labels = list(task.spec.labels)
    backend = create(parse_spec("embedded"), BackendOptions(seed=1))
    rows = sample_split(task, "test", sample, 1)
    prompt = variant.render(task, rows[0].input, ())
    backend.score(ScoreRequest(prompt, label_continuations(prompt, labels)))  # load + warm
    start = time.perf_counter()
    for ex in rows:
        prompt = variant.render(task, ex.input, ())
        backend.score(ScoreRequest(prompt, label_continuations(prompt, labels)))
    backend.close()
    return (time.perf_counter() - start) / len(rows)


def _real_config() -> Path:
    path = Path(tempfile.mkdtemp()) / "real.yaml"
    path.write_text(f"name: real\ntasks: [{ROOT / 'tasks/support_routing.yaml'}]\n"
                    f"variants: [{ROOT / 'baselines/zero_shot.yaml'}]\n")
    return path


def measure(n: int, tmp: Path) -> dict[str, float]:
    root = tmp / str(n)
    root.mkdir()
    cfg_path = _project(root, n)
    cfg = load_config(cfg_path)
    store = Store(root / "store")
    out: dict[str, float] = {"examples": 2 * n}
    for phase in ("first", "cached"):
        start = time.process_time()
        wall = time.perf_counter()
        # The second run of a finished config is a new run: every response from the cache.
        result = Runner(cfg, store, BackendOptions(seed=3), fresh=False).run()
        out[f"run_{phase}_wall_s"] = time.perf_counter() - wall
        out[f"run_{phase}_cpu_s"] = time.process_time() - start
        out[f"run_{phase}_calls"] = result.model_calls
        start = time.perf_counter()
        write_report(store, result.run_id, root / "reports")
        out[f"report_{phase}_s"] = time.perf_counter() - start
        html = next((root / "reports" / result.run_id).glob("index.html"))
        out["html_mb"] = html.stat().st_size / 1e6
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--model-sample", type=int, default=20)
    args = ap.parse_args()
    model_s = model_seconds_per_example(args.model_sample)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        for n in (int(x) for x in args.sizes.split(",")):
            rows[n] = measure(n, Path(tmp_s))
    print(f"model time (embedded, label scoring): {1000 * model_s:.1f} ms/example")
    print(f"{'examples':>9} {'run ms/ex':>10} {'cpu ms/ex':>10} {'report s':>9} "
          f"{'cached run ms/ex':>17} {'calls 2nd':>10} {'html MB':>8} {'harness/model':>14}")
    ratios = []
    for r in rows.values():
        ex = r["examples"]
        per = (r["run_first_wall_s"] + r["report_first_s"]) / ex
        ratios.append(f"harness/model@{ex}={per / model_s:.3f}")
        ratios.append(f"report@{ex}={r['report_first_s']:.2f}s")
        print(f"{ex:>9} {1000 * r['run_first_wall_s'] / ex:>10.2f} "
              f"{1000 * r['run_first_cpu_s'] / ex:>10.2f} {r['report_first_s']:>9.2f} "
              f"{1000 * r['run_cached_wall_s'] / ex:>17.2f} {r['run_cached_calls']:>10} "
              f"{r['html_mb']:>8.2f} {per / model_s:>14.3f}")
    dest = ROOT / "reports" / "bench"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "scale.json").write_text(json.dumps(
        {"model_s_per_example": model_s, "runs": rows}, indent=2))
    print("ratios: " + " ".join(ratios) + " (targets: harness/model < 0.05, report@20000 < 10s)")


if __name__ == "__main__":
    main()
