"""Chunking: split passages into retrieval units on sentence/paragraph bounds.

Sizes are in words (:func:`harness.tokens.word_count`: whitespace-separated,
and each character of Chinese, Japanese, Korean or Thai text, which has no
spaces to count), a tokenizer-free proxy that is stable across backends. A
chunk is filled with whole sentences up to ``size`` words and never crosses
a paragraph (blank line) unless the paragraph is small enough to share a
chunk with the next one; ``overlap``
repeats the trailing sentences (up to that many words) of one chunk at the
start of the next, so a fact split across a boundary is still retrievable.
A single sentence longer than ``size`` is cut into ``size``-word pieces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.collection import Passage
from harness.taskspec import ChunkSpec as ChunkSpec
from harness.tokens import word_count, word_spans

_PARAGRAPH = re.compile(r"\n\s*\n")
# A sentence ends at . ! ? (optionally followed by a closing quote or bracket)
# and whitespace, or at a CJK full stop, exclamation or question mark (with
# or without whitespace after it, optionally followed by a closing quote or
# bracket). Abbreviations like "e.g. x" may split early, which only makes a
# chunk boundary slightly earlier; the split drops only the whitespace.
_CLOSE = "\"')\\]」』”’）"
_SENTENCE = re.compile(rf"(?:(?<=[.!?])|(?<=[.!?][{_CLOSE}]))\s+"
                       rf"|(?<=[。！？｡])(?![{_CLOSE}])\s*|(?<=[。！？｡][{_CLOSE}])\s*")


@dataclass(frozen=True)
class Chunk:
    """One retrieval unit.

    Args:
        id: ``<passage id>#<n>`` (n counts from 0 within the passage).
        passage_id: The passage it came from (gold ids name passages).
        text: The chunk text.
    """

    id: str
    passage_id: str
    text: str


def sentences(text: str) -> list[list[str]]:
    """Split text into paragraphs, each a list of sentences."""
    out: list[list[str]] = []
    for para in _PARAGRAPH.split(text):
        para = " ".join(para.split())
        if para:
            out.append([s for s in _SENTENCE.split(para) if s.strip()])
    return out


def _pieces(sentence: str, size: int) -> list[str]:
    """``sentence`` cut into pieces of at most ``size`` words (text between them dropped)."""
    spans = word_spans(sentence)
    return [sentence[spans[i][0]:spans[min(i + size, len(spans)) - 1][1]]
            for i in range(0, len(spans), size)]


def chunk_text(text: str, spec: ChunkSpec) -> list[str]:
    """Cut one passage's text into chunks (see the module docstring)."""
    units: list[tuple[str, int, bool]] = []  # (sentence, words, ends a paragraph)
    for para in sentences(text):
        for i, sent in enumerate(para):
            for piece in _pieces(sent, spec.size):
                units.append((piece, word_count(piece), False))
            if i == len(para) - 1 and units:
                units[-1] = (units[-1][0], units[-1][1], True)
    chunks: list[str] = []
    current: list[tuple[str, int, bool]] = []
    fresh = 0  # sentences in `current` not carried over as overlap

    def flush() -> None:
        nonlocal current, fresh
        if fresh:
            chunks.append(" ".join(u[0] for u in current))
        carry: list[tuple[str, int, bool]] = []
        words = 0
        for u in reversed(current):
            if words + u[1] > spec.overlap:
                break
            carry.insert(0, u)
            words += u[1]
        current, fresh = carry, 0

    for unit in units:
        used = sum(u[1] for u in current)
        if current and used + unit[1] > spec.size:
            flush()
            while current and sum(u[1] for u in current) + unit[1] > spec.size:
                current.pop(0)
        current.append(unit)
        fresh += 1
        # A paragraph end is a preferred boundary once the chunk is half full.
        if unit[2] and sum(u[1] for u in current) >= spec.size // 2:
            flush()
    if fresh:
        chunks.append(" ".join(u[0] for u in current))
    return chunks


def chunk_passages(passages: Sequence[Passage], spec: ChunkSpec) -> tuple[Chunk, ...]:
    """Chunk every passage, keeping the passage id on each chunk."""
    out: list[Chunk] = []
    for p in passages:
        for n, text in enumerate(chunk_text(p.text, spec)):
            out.append(Chunk(f"{p.id}#{n}", p.id, text))
    return tuple(out)
