"""Retrieval for ``rag`` variants: collections, chunking, indexes, metrics."""

from harness.collection import Collection, Passage, load_collection
from harness.rag.chunking import Chunk, ChunkSpec, chunk_passages
from harness.rag.index import RETRIEVERS, Hit, KnowledgeIndex, build_index
from harness.rag.metrics import recall_at_k, reciprocal_rank, summarize

__all__ = ["RETRIEVERS", "Chunk", "ChunkSpec", "Collection", "Hit", "KnowledgeIndex",
           "Passage", "build_index", "chunk_passages", "load_collection", "recall_at_k",
           "reciprocal_rank", "summarize"]
