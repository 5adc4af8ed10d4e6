"""BM25 over Unicode-aware tokens, scikit-learn's term counts and SciPy sparse matrices.

Tokens come from :func:`harness.tokens.word_tokens`: NFKC- and case-folded
words of any script, with Chinese, Japanese, Korean (and Thai, Lao, Khmer,
Myanmar) runs cut into character bigrams as Lucene's ``CJKBigramFilter``
does, less English stop words; a Chinese query thus shares terms with the
passage it names instead of matching nothing. scikit-learn's
``CountVectorizer`` turns them into sparse term counts; Okapi BM25 weighting
on top is a few
lines of array arithmetic that we can test and cache as plain ``.npz``/JSON
files. The weights are computed once at index time (as bm25s does,
"eager" BM25), so a batch of queries is one sparse matrix product: on the
benchmark 100k passages build in seconds and answer thousands of queries a
second (``benchmarks/bench_rag.py``). bm25s would be as fast but adds a
dependency with its own tokenizer and file format for no gain here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from harness.tokens import word_tokens

TOKENIZER = "unicode-words-cjk-bigrams-v1"
"""Names the tokenisation in the index cache key (a change rebuilds every index)."""


def analyze(text: str) -> list[str]:
    """BM25 terms of a text: :func:`~harness.tokens.word_tokens` less English stop words."""
    return word_tokens(text, ENGLISH_STOP_WORDS)


def _vectorizer(vocabulary: dict[str, int] | None = None) -> CountVectorizer:
    return CountVectorizer(analyzer=analyze, vocabulary=vocabulary, dtype=np.float32)


def top_k_rows(scores: sp.csr_matrix | np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    """The k best (column, score) pairs of each row, best first, ties by column.

    Sparse input drops zero scores (a document sharing no term with the query
    is not retrieved); dense input (cosine similarities) keeps every value.
    """
    sparse = not isinstance(scores, np.ndarray)
    dense = scores if isinstance(scores, np.ndarray) else scores.toarray()
    n_rows, n_cols = dense.shape
    kk = min(k, n_cols)
    if kk <= 0:
        return [[] for _ in range(n_rows)]
    idx = np.argpartition(-dense, kk - 1, axis=1)[:, :kk]
    out: list[list[tuple[int, float]]] = []
    for r in range(n_rows):
        cols = idx[r]
        vals = dense[r, cols]
        order = np.lexsort((cols, -vals))
        out.append([(int(cols[j]), float(vals[j])) for j in order
                    if not sparse or vals[j] > 0])
    return out


class BM25:
    """Okapi BM25 (Lucene's idf) with precomputed per-term document weights.

    Args:
        vocabulary: Term to column index.
        weights: ``terms x documents`` CSR matrix of BM25 term weights.
    """

    def __init__(self, vocabulary: dict[str, int], weights: sp.csr_matrix) -> None:
        self.vocabulary = vocabulary
        self.weights = weights
        self._vec = _vectorizer(vocabulary)

    @property
    def n_docs(self) -> int:
        """How many documents are indexed."""
        return int(self.weights.shape[1])

    @classmethod
    def fit(cls, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> BM25:
        """Index documents.

        Args:
            texts: One string per document.
            k1: Term-frequency saturation.
            b: Length normalisation.
        """
        vec = _vectorizer()
        try:
            tf = vec.fit_transform(texts).tocsr()
        except ValueError:  # every document is stop words only: an empty vocabulary
            return cls({}, sp.csr_matrix((0, len(texts)), dtype=np.float32))
        n = tf.shape[0]
        dl = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = float(dl.mean()) or 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1]).astype(np.float32)
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        rows = np.repeat(np.arange(n), np.diff(tf.indptr))
        norm = (k1 * (1.0 - b + b * dl / avgdl)).astype(np.float32)
        data = tf.data * (k1 + 1.0) / (tf.data + norm[rows]) * idf[tf.indices]
        w = sp.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape)
        vocab = {str(t): int(i) for t, i in vec.vocabulary_.items()}
        return cls(vocab, w.T.tocsr())

    def scores(self, queries: Sequence[str]) -> sp.csr_matrix:
        """``queries x documents`` BM25 scores (sparse; unscored documents are 0)."""
        if not self.vocabulary:
            return sp.csr_matrix((len(queries), self.n_docs), dtype=np.float32)
        q = self._vec.transform(queries).tocsr()
        return (q @ self.weights).tocsr()

    def search_many(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """Top-k (document index, score) for each query, best first.

        Queries go in batches whose dense score block stays near 4M floats,
        so memory does not grow with the batch on a large collection.
        """
        batch = max(1, min(512, 4_000_000 // max(self.n_docs, 1)))
        out: list[list[tuple[int, float]]] = []
        for i in range(0, len(queries), batch):
            out.extend(top_k_rows(self.scores(queries[i:i + batch]), k))
        return out

    def save(self, folder: Path) -> None:
        """Write ``vocab.json`` and ``bm25.npz`` into a folder."""
        (folder / "vocab.json").write_text(json.dumps(self.vocabulary), encoding="utf-8")
        sp.save_npz(folder / "bm25.npz", self.weights)

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """Read what :meth:`save` wrote."""
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        return cls(vocab, sp.load_npz(folder / "bm25.npz").tocsr())
