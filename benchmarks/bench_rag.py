"""Retrieval index build time, query throughput and memory at growing collection sizes.

Generates passages of 3-5 sentences from a Zipf-distributed vocabulary
(seeded), then for each size measures, in one process:
  - chunking (sentence-bounded, 128 words, overlap 16);
  - BM25 build and query throughput (1,000 queries of 6 words drawn from
    random passages), peak Python-traced memory during the build
    (tracemalloc; NumPy/SciPy arrays are traced) and the index's bytes;
  - dense (MiniLM) build and query throughput on the sizes in --dense-sizes
    (embedding is the cost; it is linear by construction, measured to confirm).
Prints a table and a final line of growth ratios (time per passage at the
largest size / at the smallest: <= ~1 means linear or better); writes
reports/bench/rag.json.

Usage: .venv/bin/python benchmarks/bench_rag.py [--sizes 10000,100000]
       [--dense-sizes 1000,10000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.collection import Passage
from harness.minilm import MiniLM
from harness.rag.bm25 import BM25
from harness.rag.chunking import ChunkSpec, chunk_passages
from harness.rag.dense import DenseIndex

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 30_000


def make_passages(n: int, seed: int = 0) -> list[Passage]:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(VOCAB)])
    out = []
    for i in range(n):
        sents = []
        for _ in range(int(rng.integers(3, 6))):
            ids = np.minimum(rng.zipf(1.3, size=int(rng.integers(8, 16))) - 1, VOCAB - 1)
            sents.append(" ".join(words[ids]).capitalize() + ".")
        out.append(Passage(f"p{i}", " ".join(sents)))
    return out


def make_queries(passages: list[Passage], n: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    queries = []
    for _ in range(n):
        words = rng.choice(passages).text.replace(".", "").split()
        queries.append(" ".join(rng.sample(words, min(6, len(words)))))
    return queries


def measured(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, elapsed, peak


def bench_size(n: int, n_queries: int, dense: bool) -> dict[str, Any]:
    passages = make_passages(n)
    queries = make_queries(passages, n_queries)
    chunks, t_chunk, _ = measured(lambda: chunk_passages(passages, ChunkSpec(size=128,
                                                                             overlap=16)))
    texts = [c.text for c in chunks]
    bm, t_build, peak = measured(lambda: BM25.fit(texts))
    w = bm.weights
    start = time.perf_counter()
    bm.search_many(queries, 10)
    t_query = time.perf_counter() - start
    row: dict[str, Any] = {
        "passages": n, "chunks": len(chunks), "chunk_s": t_chunk,
        "bm25_build_s": t_build, "bm25_peak_mb": peak / 2**20,
        "bm25_index_mb": (w.data.nbytes + w.indices.nbytes + w.indptr.nbytes) / 2**20,
        "bm25_qps": n_queries / t_query,
    }
    if dense:
        encoder = MiniLM()
        encoder.model("the benchmark")  # loaded before the timing starts
        dq = queries[: min(n_queries, 200)]
        idx, t_dbuild, _ = measured(lambda: DenseIndex.fit(texts, encoder))
        start = time.perf_counter()
        idx.search_many(dq, 10)
        row.update({"dense_build_s": t_dbuild, "dense_index_mb": idx.vectors.nbytes / 2**20,
                    "dense_qps": len(dq) / (time.perf_counter() - start)})
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--dense-sizes", default="1000,10000")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()
    dense_sizes = {int(s) for s in args.dense_sizes.split(",") if s}
    sizes = sorted({int(s) for s in args.sizes.split(",")} | dense_sizes)
    rows = [bench_size(n, args.queries, n in dense_sizes) for n in sizes]
    print(f"{'passages':>9} {'chunks':>8} {'chunk s':>8} {'bm25 s':>8} {'peak MB':>8} "
          f"{'index MB':>9} {'bm25 q/s':>9} {'dense s':>8} {'dense q/s':>9}")
    for r in rows:
        d_s = f"{r['dense_build_s']:8.1f}" if "dense_build_s" in r else f"{'-':>8}"
        d_q = f"{r['dense_qps']:9.0f}" if "dense_qps" in r else f"{'-':>9}"
        print(f"{r['passages']:>9} {r['chunks']:>8} {r['chunk_s']:8.2f} {r['bm25_build_s']:8.2f} "
              f"{r['bm25_peak_mb']:8.1f} {r['bm25_index_mb']:9.1f} {r['bm25_qps']:9.0f} "
              f"{d_s} {d_q}")

    def growth(key: str, per: str = "passages") -> float:
        have = [r for r in rows if key in r]
        lo, hi = have[0], have[-1]
        return (hi[key] / hi[per]) / (lo[key] / lo[per])

    bm_rows = [r for r in rows if r["passages"] in {int(s) for s in args.sizes.split(",")}]
    lo, hi = bm_rows[0], bm_rows[-1]
    size_ratio = hi["passages"] / lo["passages"]
    ratios = {
        "size_x": size_ratio,
        "bm25_build_per_passage": (hi["bm25_build_s"] / hi["passages"])
        / (lo["bm25_build_s"] / lo["passages"]),
        "bm25_memory_per_passage": (hi["bm25_peak_mb"] / hi["passages"])
        / (lo["bm25_peak_mb"] / lo["passages"]),
        "bm25_query_time_x": lo["bm25_qps"] / hi["bm25_qps"],
        "chunk_per_passage": (hi["chunk_s"] / hi["passages"]) / (lo["chunk_s"] / lo["passages"]),
    }
    if len([r for r in rows if "dense_build_s" in r]) >= 2:
        ratios["dense_build_per_passage"] = growth("dense_build_s")
    out = ROOT / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "rag.json").write_text(json.dumps({"rows": rows, "ratios": ratios}, indent=2))
    print("ratios (largest/smallest, per passage; <=1 linear or better): "
          + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
