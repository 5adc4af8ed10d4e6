from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.collection import Passage
from harness.rag.chunking import ChunkSpec, chunk_passages, chunk_text, sentences


def _words(n: int, tag: str) -> str:
    return " ".join(f"{tag}{i}" for i in range(n)) + "."


def test_sentences_and_paragraphs() -> None:
    text = "One two. Three four? Five!\n\nSix seven.\n  \nEight."
    assert sentences(text) == [["One two.", "Three four?", "Five!"], ["Six seven."], ["Eight."]]


def test_chunks_end_on_sentence_boundaries_and_respect_size() -> None:
    text = " ".join(_words(6, f"s{j}w") for j in range(10))  # 10 sentences of 6 words
    chunks = chunk_text(text, ChunkSpec(size=20, overlap=0))
    assert all(len(c.split()) <= 20 for c in chunks)
    assert all(c.endswith(".") for c in chunks)
    # nothing lost, nothing repeated without overlap
    assert " ".join(chunks).split() == text.split()
    assert len(chunks) == 4  # 3 sentences (18 words) per chunk


def test_overlap_repeats_trailing_sentences() -> None:
    text = " ".join(_words(6, f"s{j}w") for j in range(10))
    chunks = chunk_text(text, ChunkSpec(size=20, overlap=7))
    assert all(len(c.split()) <= 20 for c in chunks)
    for a, b in zip(chunks, chunks[1:], strict=False):
        last_sentence = a.split(". ")[-1]
        assert b.startswith(last_sentence.rstrip("."))
    assert chunks[-1].split()[-1] == "s9w5."


def test_paragraph_end_is_a_boundary_once_half_full() -> None:
    text = _words(12, "a") + "\n\n" + _words(5, "b")
    chunks = chunk_text(text, ChunkSpec(size=20, overlap=0))
    assert len(chunks) == 2 and chunks[1].startswith("b0")
    # small paragraphs share a chunk
    assert len(chunk_text("A b.\n\nC d.\n\nE f.", ChunkSpec(size=20))) == 1


def test_a_sentence_longer_than_size_is_cut() -> None:
    chunks = chunk_text(_words(50, "w"), ChunkSpec(size=20, overlap=0))
    assert [len(c.split()) for c in chunks] == [20, 20, 10]


def test_chunk_ids_keep_the_passage() -> None:
    chunks = chunk_passages([Passage("p1", _words(30, "x")), Passage("p2", "Short.")],
                            ChunkSpec(size=20))
    assert [(c.id, c.passage_id) for c in chunks] == [
        ("p1#0", "p1"), ("p1#1", "p1"), ("p2#0", "p2")]


def test_bad_specs() -> None:
    with pytest.raises(ValidationError):
        ChunkSpec(size=20, overlap=20)
    with pytest.raises(ValidationError):
        ChunkSpec(size=2)


def test_chinese_text_is_cut_into_sentences_and_sized_by_character() -> None:
    # Issue 18 case 5: unspaced text was one "word" and one sentence, so a whole
    # Chinese document was a single chunk. Sentences end at 。！？; each Han
    # character is a word: 8, 11 and 8 words (the stop counts as one).
    text = "机器学习很有用。它是人工智能的一部分！我们每天都用它。"
    assert sentences(text) == [["机器学习很有用。", "它是人工智能的一部分！", "我们每天都用它。"]]
    # size 12: 8 + 11 > 12 and 11 + 8 > 12, so each sentence is its own chunk
    assert chunk_text(text, ChunkSpec(size=12)) == [
        "机器学习很有用。", "它是人工智能的一部分！", "我们每天都用它。"]
    # one unspaced sentence longer than size is cut by character: 10 = 8 + 2
    assert chunk_text("一二三四五六七八九十", ChunkSpec(size=8)) == ["一二三四五六七八", "九十"]


def test_closing_quote_after_a_full_stop_stays_with_its_sentence() -> None:
    assert sentences('He said "hi." Then left.') == [['He said "hi."', "Then left."]]
    assert sentences("“好吗？”我说。") == [["“好吗？”", "我说。"]]
