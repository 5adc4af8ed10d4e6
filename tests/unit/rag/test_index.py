from __future__ import annotations

from pathlib import Path

import pytest

from harness.collection import Collection, Passage
from harness.errors import UsageError
from harness.rag.chunking import ChunkSpec
from harness.rag.index import build_index

PASSAGES = (
    Passage("refunds", "Refunds are paid within fourteen days. Keep the receipt."),
    Passage("hours", "The office opens at nine. It closes at five on weekdays."),
    Passage("pets", "Dogs are welcome in the lobby. Cats must stay in a carrier."),
)


def _coll(passages: tuple[Passage, ...] = PASSAGES) -> Collection:
    return Collection(Path("mem"), passages)


def test_bm25_index_is_cached_by_content(tmp_path: Path) -> None:
    spec = ChunkSpec(size=20)
    build_index(_coll(), spec, "bm25", tmp_path)
    folders = list((tmp_path / "rag").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("bm25-")
    stamp = (folders[0] / "bm25.npz").stat().st_mtime_ns
    again = build_index(_coll(), spec, "bm25", tmp_path)
    assert (folders[0] / "bm25.npz").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert again.search("when are refunds paid", 1)[0].chunk.passage_id == "refunds"
    changed = (PASSAGES[0], PASSAGES[1], Passage("pets", "No animals allowed."))
    build_index(_coll(changed), spec, "bm25", tmp_path)
    assert len(list((tmp_path / "rag").iterdir())) == 2
    build_index(_coll(), ChunkSpec(size=8), "bm25", tmp_path)
    assert len(list((tmp_path / "rag").iterdir())) == 3
    assert not [p for p in (tmp_path / "rag").iterdir() if p.name.startswith(".tmp")]


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    build_index(_coll(), ChunkSpec(), "bm25", tmp_path)
    folder = next((tmp_path / "rag").iterdir())
    (folder / "bm25.npz").write_bytes(b"garbage")
    idx = build_index(_coll(), ChunkSpec(), "bm25", tmp_path)
    assert idx.search("dogs lobby", 1)[0].chunk.passage_id == "pets"


def test_no_cache_root_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    build_index(_coll(), ChunkSpec(), "bm25", None)
    assert list(tmp_path.iterdir()) == []


def test_random_retriever_is_seeded_by_query() -> None:
    idx = build_index(_coll(), ChunkSpec(), "random")
    a = [h.chunk.id for h in idx.search("anything", 2)]
    assert a == [h.chunk.id for h in idx.search("anything", 2)]
    assert len(set(a)) == 2
    assert len(idx.search("x", 10)) == 3


def test_k_must_be_positive_and_retriever_known() -> None:
    idx = build_index(_coll(), ChunkSpec(), "bm25")
    with pytest.raises(UsageError, match="k must be at least 1"):
        idx.search("refunds", 0)
    with pytest.raises(UsageError, match="one of: bm25, dense, hybrid, random"):
        build_index(_coll(), ChunkSpec(), "splade")


def test_hits_are_ranked_from_one() -> None:
    hits = build_index(_coll(), ChunkSpec(), "bm25").search("office opens nine", 3)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].chunk.passage_id == "hours"
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
