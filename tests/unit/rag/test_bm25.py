from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.rag.bm25 import BM25, _vectorizer, top_k_rows

DOCS = [
    "The cat sat on the mat.",
    "Dogs chase cats in the park.",
    "Refunds are paid within fourteen days of a return.",
    "The park opens at dawn and the park closes at dusk.",
]


def test_scores_match_the_okapi_formula() -> None:
    bm = BM25.fit(DOCS, k1=1.5, b=0.75)
    # hand-computed for the term "park": df=2 of N=4; doc 3 has tf=2
    analyze = _vectorizer().build_analyzer()  # lowercase, stop words removed
    lengths = [len(analyze(d)) for d in DOCS]
    assert analyze(DOCS[3]).count("park") == 2
    avgdl = sum(lengths) / 4
    idf = math.log1p((4 - 2 + 0.5) / (2 + 0.5))
    def w(tf: int, dl: int) -> float:
        return idf * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))
    s = bm.scores(["park"]).toarray()[0]
    assert s[0] == 0.0 and s[2] == 0.0
    assert s[1] == pytest.approx(w(1, lengths[1]), rel=1e-5)
    assert s[3] == pytest.approx(w(2, lengths[3]), rel=1e-5)


def test_search_ranks_the_relevant_document_first() -> None:
    bm = BM25.fit(DOCS)
    hits = bm.search_many(["how many days for a refund", "park closing time", "zebra"], k=2)
    assert hits[0][0][0] == 2
    assert hits[1][0][0] == 3
    assert hits[2] == []  # no shared term: nothing, not a random pick


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    bm = BM25.fit(DOCS)
    bm.save(tmp_path)
    again = BM25.load(tmp_path)
    assert again.search_many(["dogs in the park"], 3) == bm.search_many(["dogs in the park"], 3)


def test_stop_words_only_collection() -> None:
    bm = BM25.fit(["the", "a an the"])
    assert bm.search_many(["the"], 3) == [[]]


def test_top_k_rows_dense_ties_break_by_index() -> None:
    rows = top_k_rows(np.array([[0.1, 0.5, 0.5, 0.2]], dtype=np.float32), 3)
    assert [i for i, _ in rows[0]] == [1, 2, 3]
