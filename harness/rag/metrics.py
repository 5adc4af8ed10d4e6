"""Retrieval quality against gold passage ids: recall@k and MRR.

Both count *passages*, not chunks: a ranking of chunks is first reduced to
the distinct passages in order of their best chunk, so a passage cut into
three chunks is not counted three times.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np


def passage_ranking(passage_ids: Sequence[str]) -> list[str]:
    """Distinct passage ids in order of first appearance."""
    return list(dict.fromkeys(passage_ids))


def recall_at_k(ranked: Sequence[str], gold: Collection[str], k: int) -> float:
    """Share of the gold passages found in the first k distinct passages."""
    if not gold:
        raise ValueError("recall needs at least one gold passage id")
    top = set(passage_ranking(ranked)[:k])
    return len(top & set(gold)) / len(set(gold))


def reciprocal_rank(ranked: Sequence[str], gold: Collection[str]) -> float:
    """1 / rank of the first gold passage (0 when none was retrieved)."""
    for rank, pid in enumerate(passage_ranking(ranked), 1):
        if pid in gold:
            return 1.0 / rank
    return 0.0


def summarize(rankings: Sequence[Sequence[str]], golds: Sequence[Collection[str]],
              k: int) -> dict[str, float | int]:
    """Mean recall@k and MRR over queries that have gold ids.

    Returns:
        ``{"k", "n", "recall_at_k", "mrr"}``; ``n`` counts the queries used.
    """
    pairs = [(r, g) for r, g in zip(rankings, golds, strict=True) if g]
    if not pairs:
        return {"k": k, "n": 0, "recall_at_k": float("nan"), "mrr": float("nan")}
    rec = np.mean([recall_at_k(r, g, k) for r, g in pairs])
    mrr = np.mean([reciprocal_rank(r, g) for r, g in pairs])
    return {"k": k, "n": len(pairs), "recall_at_k": float(rec), "mrr": float(mrr)}
