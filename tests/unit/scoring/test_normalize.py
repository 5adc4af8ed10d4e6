"""Normalisation before comparison is Unicode-aware (issue 18 case 5, same kind)."""

from __future__ import annotations

from harness.scoring.normalize import norm_text
from harness.scoring.style import looping
from harness.taskspec import Normalize


def test_unicode_punctuation_is_punctuation() -> None:
    how = Normalize(punctuation=True)
    # string.punctuation is ASCII only: 「」 and 。 survived and "「運送」" != "運送"
    assert norm_text("「運送」例外報告。", how) == "運送 例外報告"
    assert norm_text("¿Qué?", how) == "qué"
    assert norm_text("“Shipment.”", how) == "shipment"
    # ASCII symbols in string.punctuation still go; other symbols stay
    assert norm_text("a+b €5", how) == "a b €5"


def test_canonically_equal_text_compares_equal() -> None:
    # 'é' precomposed (U+00E9) and decomposed (e + U+0301) are the same text (NFC)
    how = Normalize()
    assert norm_text("caf\u00e9", how) == norm_text("cafe\u0301", how) == "caf\u00e9"


def test_a_looping_answer_in_an_unspaced_script_is_caught() -> None:
    # 10 characters, each a word: 8 word trigrams, 2 distinct (好的好, 的好的): 0.25 < 0.5;
    # split() saw one "word" and never called it looping
    assert looping("好的好的好的好的好的")
    assert not looping("我们明天上午十点开会")  # 8 distinct trigrams of 8
    assert looping("ok ok ok ok ok ok ok")
