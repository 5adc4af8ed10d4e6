from __future__ import annotations

import math

import pytest

from harness.rag.metrics import recall_at_k, reciprocal_rank, summarize


def test_recall_counts_distinct_passages() -> None:
    ranked = ["a", "a", "b", "c", "d"]  # chunk-level: "a" twice
    assert recall_at_k(ranked, {"c"}, 2) == 0.0
    assert recall_at_k(ranked, {"c"}, 3) == 1.0
    assert recall_at_k(ranked, {"b", "z"}, 5) == 0.5
    with pytest.raises(ValueError):
        recall_at_k(ranked, set(), 3)


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(["x", "x", "y", "g"], {"g"}) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x"], {"g"}) == 0.0


def test_summarize_skips_queries_without_gold() -> None:
    out = summarize([["a", "b"], ["b", "a"], ["c"]], [{"a"}, {"a"}, set()], k=1)
    assert out["n"] == 2
    assert out["recall_at_k"] == pytest.approx(0.5)
    assert out["mrr"] == pytest.approx(0.75)
    empty = summarize([["a"]], [set()], k=1)
    assert empty["n"] == 0 and math.isnan(float(empty["recall_at_k"]))
