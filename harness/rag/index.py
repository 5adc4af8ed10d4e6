"""Build (or reuse) a retrieval index over a chunked collection, and search it.

An index is cached under ``<store>/rag/<retriever>-<digest>/``; the digest
covers the collection's content (every passage id and text), the chunking
settings, the retriever and an index format version, so editing one
passage rebuilds and an unchanged collection never does. Retrievers:

- ``bm25``: lexical, the offline default (:mod:`harness.rag.bm25`).
- ``dense``: MiniLM embeddings, cosine similarity (:mod:`harness.rag.dense`).
- ``hybrid``: reciprocal rank fusion of the two (Cormack et al. 2009,
  ``sum 1 / (60 + rank)``), which needs no score calibration between them.
- ``random``: a seeded random ranking, the control that retrieval must beat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from harness.collection import Collection
from harness.errors import UsageError
from harness.minilm import MiniLM
from harness.rag.bm25 import BM25, TOKENIZER
from harness.rag.chunking import Chunk, ChunkSpec, chunk_passages
from harness.rag.dense import MODEL_NAME, DenseIndex

log = logging.getLogger(__name__)

RetrieverName = Literal["bm25", "dense", "hybrid", "random"]
RETRIEVERS: tuple[str, ...] = ("bm25", "dense", "hybrid", "random")
INDEX_VERSION = 2  # 2: Unicode words and CJK bigrams (harness.tokens)
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    Args:
        chunk: The chunk.
        score: The retriever's score (RRF score for hybrid).
        rank: 1-based rank.
    """

    chunk: Chunk
    score: float
    rank: int


def index_digest(collection: Collection, chunking: ChunkSpec, part: str) -> str:
    """The cache key of one index part (``bm25`` or ``dense``)."""
    model = MODEL_NAME if part == "dense" else f"sklearn-bm25-k1.5-b0.75-{TOKENIZER}"
    key = json.dumps({"v": INDEX_VERSION, "part": part, "model": model,
                      "chunking": chunking.model_dump(), "collection": collection.digest},
                     sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class KnowledgeIndex:
    """Chunks of one collection plus the parts a retriever needs.

    Use :func:`build_index`; the constructor takes already-built parts.
    """

    def __init__(self, chunks: tuple[Chunk, ...], retriever: RetrieverName,
                 bm25: BM25 | None = None, dense: DenseIndex | None = None) -> None:
        self.chunks = chunks
        self.retriever = retriever
        self.bm25 = bm25
        self.dense = dense

    def search(self, query: str, k: int) -> list[Hit]:
        """The top-k chunks for one query (see :meth:`search_many`)."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """The top-k chunks for each query, best first.

        Raises:
            UsageError: ``k`` is not positive.
        """
        if k <= 0:
            raise UsageError(f"retrieval k must be at least 1, got {k}")
        if self.retriever == "random":
            return [self._random(q, k) for q in queries]
        if self.retriever == "hybrid":
            return [self._fuse(a, b, k) for a, b in zip(
                self._part("bm25", queries, max(k * 4, 50)),
                self._part("dense", queries, max(k * 4, 50)), strict=True)]
        return [[Hit(self.chunks[i], s, r) for r, (i, s) in enumerate(row, 1)]
                for row in self._part(self.retriever, queries, k)]

    def _part(self, part: str, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        engine = self.bm25 if part == "bm25" else self.dense
        if engine is None:
            raise RuntimeError(f"index built without its {part} part")
        return engine.search_many(list(queries), k)

    def _fuse(self, a: list[tuple[int, float]], b: list[tuple[int, float]],
              k: int) -> list[Hit]:
        fused: dict[int, float] = {}
        for ranking in (a, b):
            for rank, (i, _) in enumerate(ranking, 1):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [Hit(self.chunks[i], s, r) for r, (i, s) in enumerate(best, 1)]

    def _random(self, query: str, k: int) -> list[Hit]:
        rng = random.Random(hashlib.sha256(query.encode()).hexdigest())
        picks = rng.sample(range(len(self.chunks)), min(k, len(self.chunks)))
        return [Hit(self.chunks[i], 0.0, r) for r, i in enumerate(picks, 1)]


Part = TypeVar("Part", BM25, DenseIndex)


def _cached(folder: Path | None, load: Callable[[Path], Part], fit: Callable[[], Part]
            ) -> Part:
    if folder is not None and folder.is_dir():
        try:
            return load(folder)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("rebuilding the unreadable index cache %s: %s", folder, exc)
    index = fit()
    if folder is not None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        try:
            index.save(tmp)
            os.replace(tmp, folder)
        except OSError:  # another process won the race, or the disk is read-only
            shutil.rmtree(tmp, ignore_errors=True)
    return index


def build_index(collection: Collection, chunking: ChunkSpec, retriever: str,
                cache_root: str | Path | None = None, encoder: MiniLM | None = None
                ) -> KnowledgeIndex:
    """Chunk a collection and build (or load from cache) what a retriever needs.

    Args:
        collection: The loaded collection.
        chunking: Chunk size and overlap.
        retriever: ``bm25``, ``dense``, ``hybrid`` or ``random``.
        cache_root: The store directory (``.tunegate``); None disables caching.
        encoder: The run's MiniLM (dense and hybrid); None: one of its own.

    Raises:
        UsageError: An unknown retriever name, or dense without MiniLM installed.
    """
    if retriever not in RETRIEVERS:
        raise UsageError(f"unknown retriever {retriever!r}", hint="one of: "
                         + ", ".join(RETRIEVERS))
    chunks = chunk_passages(collection.passages, chunking)
    texts = [c.text for c in chunks]
    root = Path(cache_root) / "rag" if cache_root is not None else None

    def folder(part: str) -> Path | None:
        return root / f"{part}-{index_digest(collection, chunking, part)}" if root else None

    bm25 = dense = None
    if retriever in ("bm25", "hybrid"):
        bm25 = _cached(folder("bm25"), BM25.load, lambda: BM25.fit(texts))
    if retriever in ("dense", "hybrid"):
        enc = encoder if encoder is not None else MiniLM()
        dense = _cached(folder("dense"), lambda f: DenseIndex.load(f, enc),
                        lambda: DenseIndex.fit(texts, enc))
    name: RetrieverName = retriever  # type: ignore[assignment]
    return KnowledgeIndex(chunks, name, bm25=bm25, dense=dense)
