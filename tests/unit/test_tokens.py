"""Unicode-aware words (issue 18 case 5): tokens, word spans, phrase boundaries, the marks table."""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from harness.tokens import normalize, phrase_pattern, word_count, word_spans, word_tokens
from harness.unicode_marks import MARKS


def test_chinese_runs_become_character_bigrams() -> None:
    # "机器学习" (machine learning): 4 characters, so 3 overlapping bigrams, as
    # Lucene's CJKBigramFilter emits them; the ASCII-only tokeniser kept nothing.
    assert word_tokens("机器学习") == ["机器", "器学", "学习"]
    # a lone CJK character (between punctuation) stays a unigram
    assert word_tokens("猫。") == ["猫"]
    # mixed text: the Latin word stays whole and cuts the CJK run in two
    assert word_tokens("用API接口") == ["用", "api", "接口"]


def test_japanese_korean_and_width_folding() -> None:
    # half-width katakana ｶﾀｶﾅ is NFKC-folded to カタカナ (4 chars: 3 bigrams);
    # full-width ＡＢＣ to abc
    assert word_tokens("ＡＢＣ ｶﾀｶﾅ") == ["abc", "カタ", "タカ", "カナ"]
    # Hangul words are spaced, and bigrammed within each word as Lucene does
    assert word_tokens("한국어 공부") == ["한국", "국어", "공부"]


def test_words_keep_their_combining_marks() -> None:
    # Python's \w drops Devanagari vowel signs: 'हिन्दी' became 'ह', 'न', 'द'
    assert re.findall(r"\w+", "हिन्दी") == ["ह", "न", "द"]
    assert word_tokens("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    # a decomposed 'naïve' (i + U+0308) is NFKC-composed into one word
    assert word_tokens("nai\u0308ve") == ["naïve"]


def test_stop_words_and_case_folding() -> None:
    assert word_tokens("The Straße and the CAT", {"the", "and"}) == ["strasse", "cat"]
    assert normalize("ＡＢＣ Straße") == "abc strasse"


def test_word_spans_count_each_unspaced_character() -> None:
    text = "机器学习很有用。"
    # 7 Han characters, each a word, and the full stop (a non-space run) one more
    assert [text[a:b] for a, b in word_spans(text)] == list("机器学习很有用") + ["。"]
    assert word_count(text) == 8
    assert word_count("two words") == 2


@given(st.lists(st.text(alphabet="abcXYZ019_.,!?'-", min_size=1, max_size=8), max_size=12),
       st.sampled_from([" ", "  ", "\n", "\t "]))
def test_spaced_text_words_are_exactly_split(words: list[str], sep: str) -> None:
    text = sep.join(words)
    assert [text[a:b] for a, b in word_spans(text)] == text.split()


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_ascii_tokens_are_the_old_lowercased_word_pattern(text: str) -> None:
    # On ASCII text nothing changes: the tokens are scikit-learn's (?u)\b\w+\b, lower-cased.
    assert word_tokens(text) == re.findall(r"(?u)\b\w+\b", text.lower())


def test_phrase_boundaries_only_against_spaced_scripts() -> None:
    def found(phrase: str, text: str) -> bool:
        return re.search(phrase_pattern(phrase), text) is not None

    assert found("术语", "使用术语表")  # no spaces in Chinese: inside its sentence
    assert found("API", "API接口")
    assert found("cat", "a cat.")
    assert not found("cat", "cats")
    assert not found("nai", "nai\u0308ve")  # the mark belongs to the word


def test_marks_table_is_every_combining_mark() -> None:
    table = re.compile(f"[{MARKS}]")
    marks = {chr(cp) for cp in range(sys.maxunicode + 1)
             if unicodedata.category(chr(cp)).startswith("M")}
    in_table = {chr(cp) for cp in range(sys.maxunicode + 1) if table.match(chr(cp))}
    assert in_table <= marks  # categories of assigned characters never change
    if unicodedata.unidata_version == "14.0.0":  # the version the table was generated from
        assert in_table == marks
    else:  # a newer Python knows new marks: regenerate harness/unicode_marks.py
        assert len(in_table) / len(marks) > 0.97
