r"""Unicode-aware words: tokens for lexical retrieval, word counts and word boundaries.

Retrieval (BM25), chunking, passage truncation, terminology matching and
the looping check all go through here, so one rule holds for every script:

- A *word* is a run of Unicode word characters (``\w``: letters, digits,
  underscore) and combining marks (:data:`~harness.unicode_marks.MARKS`;
  ``\w`` alone cuts Devanagari or decomposed Latin words at their marks).
- Scripts written without spaces between words (Han, Hiragana, Katakana,
  Hangul, and Thai, Lao, Khmer, Myanmar) have no such words: a Chinese
  sentence would be one "word" that no query ever matches. Their runs are
  cut into overlapping character bigrams (a lone character stays a
  unigram), the dictionary-free approach of Lucene's ``CJKBigramFilter``
  and Elasticsearch's ``cjk`` analyzer (which, like :func:`word_tokens`,
  first folds full-width and half-width forms, there ``cjk_width``, here
  NFKC). A "character" is a base character with its combining marks.
- Counting words for sizes (chunking, truncation) counts each such
  character as one word, and other text by whitespace.

References: Lucene ``org.apache.lucene.analysis.cjk.CJKBigramFilter``;
Elasticsearch "CJK bigram token filter"; Unicode UAX #29 (word boundaries
are not defined by spaces in these scripts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

from harness.unicode_marks import MARKS

UNSEGMENTED = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK and Kangxi radicals
    "\u3005-\u3007\u3021-\u3029\u3038-\u303b"  # ideographic iteration marks, numerals
    "\u3041-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3131-\u318e"  # Hangul compatibility Jamo
    "\u3400-\u4dbf\u4e00-\u9fff"  # CJK unified ideographs (and extension A)
    "\ua960-\ua97f\uac00-\ud7ff"  # Hangul Jamo extended, syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U0001b000-\U0001b16f"  # Kana supplement and extensions
    "\U00020000-\U0003134f"  # CJK unified ideographs extensions B to G
)
"""Scripts written without spaces between words, as a regex class body."""

WORD_CHAR = f"[\\w{MARKS}]"
"""One character of a word (any script), as a regex."""
SPACED_WORD_CHAR = f"(?![{UNSEGMENTED}])[\\w{MARKS}]"
"""A word character of a script that separates words with spaces, as a regex."""

_RUN = re.compile(f"{WORD_CHAR}+")
_ASCII_RUN = re.compile(r"\w+")  # the same on ASCII text, and faster
_HAS_UNSEGMENTED = re.compile(f"[{UNSEGMENTED}]")
_PARTS = re.compile(f"(?P<u>(?:[{UNSEGMENTED}][{MARKS}]*)+)|(?:{SPACED_WORD_CHAR})+")
_CLUSTER = re.compile(f"[{UNSEGMENTED}][{MARKS}]*")
_UNIT = re.compile(f"[{UNSEGMENTED}][{MARKS}]*|(?:(?![{UNSEGMENTED}])\\S)+")


def normalize(text: str) -> str:
    """NFKC-fold and case-fold ``text`` (full-width ``Ａ`` is ``a``, ``ß`` is ``ss``)."""
    return unicodedata.normalize("NFKC", text).casefold()


def _bigrams(run: str) -> list[str]:
    chars = _CLUSTER.findall(run)
    if len(chars) < 2:
        return chars
    return [a + b for a, b in zip(chars, chars[1:], strict=False)]


def word_tokens(text: str, stop_words: Collection[str] = ()) -> list[str]:
    """The retrieval tokens of ``text``: words, and bigrams in unsegmented scripts.

    Args:
        text: Any text.
        stop_words: Tokens to drop (compared after folding).

    Returns:
        Tokens in text order, NFKC- and case-folded.

    Example:
        >>> word_tokens("Der Kühlschrank: 机器学习!")
        ['der', 'kühlschrank', '机器', '器学', '学习']
        >>> word_tokens("猫")
        ['猫']
    """
    text = normalize(text)
    if text.isascii():
        return [t for t in _ASCII_RUN.findall(text) if t not in stop_words]
    if not _HAS_UNSEGMENTED.search(text):
        return [t for t in _RUN.findall(text) if t not in stop_words]
    out: list[str] = []
    for run in _RUN.findall(text):
        for part in _PARTS.finditer(run):
            if part.group("u"):
                out.extend(_bigrams(part.group()))
            elif part.group() not in stop_words:
                out.append(part.group())
    return out


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each word of ``text``, for sizes and cuts.

    A word is a whitespace-separated run, except that every character of an
    unsegmented script (with its marks) is a word of its own; so on text
    without those scripts the words are exactly ``text.split()``.

    Example:
        >>> [("用API接口。"[a:b]) for a, b in word_spans("用API接口。")]
        ['用', 'API', '接', '口', '。']
    """
    return [m.span() for m in _UNIT.finditer(text)]


def word_count(text: str) -> int:
    """How many words :func:`word_spans` finds."""
    return sum(1 for _ in _UNIT.finditer(text))


def phrase_pattern(phrase: str) -> str:
    """A regex for ``phrase`` as a whole word or phrase (not inside a longer word).

    The boundary is checked only against word characters of spaced scripts:
    in Chinese or Japanese text a term has no spaces around it, so ``术语``
    is found in ``使用术语表`` and ``API`` in ``API接口``, while ``cat`` is
    not found in ``cats`` nor ``nai`` in a decomposed ``naïve``.
    """
    return f"(?<!{SPACED_WORD_CHAR}){re.escape(phrase)}(?!{SPACED_WORD_CHAR})"
