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


ZH_DOCS = [
    "机器学习是人工智能的一个分支。",  # machine learning is a branch of AI
    "退款将在十四天内支付。",  # refunds are paid within fourteen days
    "公园在黎明开放，在黄昏关闭。",  # the park opens at dawn and closes at dusk
]


def test_a_chinese_word_retrieves_the_passage_it_appears_in() -> None:
    # Issue 18 case 5a: the word 退款 (refund) appears verbatim in passage 1 only.
    # Terms are character bigrams: passage lengths 13 (14 characters), 9 (10) and
    # 6 + 4 = 10 (公园在黎明开放 / 在黄昏关闭); "退款" occurs once, in passage 1.
    bm = BM25.fit(ZH_DOCS)
    hits = bm.search_many(["退款", "什么时候公园开放", "香蕉"], k=3)
    avgdl = (13 + 9 + 10) / 3
    idf = math.log1p((3 - 1 + 0.5) / (1 + 0.5))
    expected = idf * 1 * 2.5 / (1 + 1.5 * (1 - 0.75 + 0.75 * 9 / avgdl))
    assert [i for i, _ in hits[0]] == [1]
    assert hits[0][0][1] == pytest.approx(expected, rel=1e-5)
    assert hits[1][0][0] == 2  # shares 公园 and 开放 with the park passage only
    assert hits[2] == []  # banana: no shared term, nothing retrieved


def test_unspaced_and_marked_scripts_match_whole_words() -> None:
    docs = ["東京の天気は晴れです。", "हिन्दी भाषा सीखना आसान है", "भारत एक बड़ा देश है"]
    bm = BM25.fit(docs)
    # 天気 (weather) is a bigram of passage 0 only
    assert [i for i, _ in bm.search_many(["天気"], 3)[0]] == [0]
    # भाषा (language) is a word of passage 1 only; with \w alone it was the
    # fragments भ and ष, and भ also occurs in भारत (passage 2)
    assert [i for i, _ in bm.search_many(["भाषा"], 3)[0]] == [1]
