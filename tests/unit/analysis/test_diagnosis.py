from __future__ import annotations

from harness.analysis.diagnosis import (
    BEHAVIOUR_GAP,
    KNOWLEDGE_GAP,
    NO_CLEAR_GAP,
    diagnose,
)
from harness.analysis.model import ComparisonResult
from tests.unit import resultskit as kit


def comp(base: str, cand: str, delta: float, low: float, high: float,
         p: float = 0.01) -> ComparisonResult:
    return kit.comparison({"baseline": base, "candidate": cand, "delta": delta, "ci_low": low,
                           "ci_high": high, "p_value": p, "n": 40, "test": "mcnemar"})


RAG_WINS = comp("zero_shot", "rag", 0.5, 0.3, 0.7)
RAG_FLAT = comp("zero_shot", "rag", 0.02, -0.1, 0.12, 0.7)
LORA_WINS = comp("zero_shot", "lora", 0.4, 0.2, 0.6)
LORA_FLAT = comp("zero_shot", "lora", 0.0, -0.1, 0.1, 1.0)


def test_knowledge_gap_when_rag_wins_and_lora_does_not_beat_it() -> None:
    d = diagnose(RAG_WINS, LORA_WINS, comp("rag", "lora", -0.1, -0.3, 0.05, 0.3))
    assert d is not None and d.label == KNOWLEDGE_GAP
    assert "rag vs zero_shot: +0.500 [+0.300, +0.700]" in d.reason
    assert d.evidence["lora_vs_rag"].delta == -0.1


def test_knowledge_gap_without_a_lora_variant() -> None:
    d = diagnose(RAG_WINS, None, None)
    assert d is not None and d.label == KNOWLEDGE_GAP
    assert "no fine-tuned variant" in d.reason


def test_behaviour_gap_when_lora_beats_both() -> None:
    d = diagnose(RAG_FLAT, LORA_WINS, comp("rag", "lora", 0.38, 0.2, 0.55))
    assert d is not None and d.label == BEHAVIOUR_GAP


def test_lora_beating_rag_insignificantly_is_still_knowledge() -> None:
    d = diagnose(RAG_WINS, LORA_WINS, comp("rag", "lora", 0.05, -0.02, 0.12, 0.2))
    assert d is not None and d.label == KNOWLEDGE_GAP


def test_no_clear_gap() -> None:
    d = diagnose(RAG_FLAT, LORA_FLAT, comp("rag", "lora", 0.0, -0.1, 0.1, 1.0))
    assert d is not None and d.label == NO_CLEAR_GAP
    assert "neither" in d.reason
    # both beat the prompt but lora is significantly better than rag: behaviour
    d = diagnose(RAG_WINS, LORA_WINS, comp("rag", "lora", 0.2, 0.05, 0.3))
    assert d is not None and d.label == BEHAVIOUR_GAP
    # lora wins over the prompt, rag neither wins nor loses to lora significantly
    d = diagnose(RAG_FLAT, LORA_WINS, comp("rag", "lora", 0.1, -0.05, 0.2, 0.1))
    assert d is not None and d.label == NO_CLEAR_GAP and "disagree" in d.reason


def test_nan_interval_is_not_a_win_and_no_rag_means_no_diagnosis() -> None:
    nan = float("nan")
    d = diagnose(comp("zero_shot", "rag", nan, nan, nan, nan), None, None)
    assert d is not None and d.label == NO_CLEAR_GAP and "n/a" in d.reason
    assert diagnose(None, LORA_WINS, None) is None
