from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from harness.analysis.economics import EconomicsInputs, VariantMeasurements, break_even
from harness.analysis.model import Outcome, TaskVerdict, VerdictLabel
from harness.analysis.stats import Comparison, compare
from harness.analysis.verdict import (
    JUSTIFIED,
    NO_PAYBACK,
    TOO_SMALL,
    USE_RAG,
    Verdict,
    decide,
    exit_code,
    inconclusive_label,
    overall,
)


def _cmp(delta: float, low: float, high: float, n: int = 200, p: float = 0.01,
         n_needed: int | None = 150) -> Comparison:
    return Comparison(delta=delta, ci_low=low, ci_high=high, p_value=p,
                      test="mcnemar_exact", n=n, mde=0.05, n_needed=n_needed)


def _econ(**changes: Any) -> Any:
    args: dict[str, Any] = dict(
        price_in_per_mtok=1.0, price_out_per_mtok=4.0, calls_per_month=10_000_000,
        labelling_cost_per_example=1.0, n_labelled=500, gpu_price_per_hour=2.0,
        training_hours=100.0)
    args.update(changes)
    return break_even(VariantMeasurements(60.0, 3.0), VariantMeasurements(45.0, 3.0),
                      EconomicsInputs(**args))


PAYS = _econ()  # 4.67 months
SLOW = _econ(calls_per_month=1_000_000)  # $15/month: 46.7 months
NEVER = _econ(retrain_every_months=1)  # maintenance exceeds the saving


def test_justified_states_its_numbers() -> None:
    v = decide(_cmp(0.12, 0.05, 0.19, p=0.003), PAYS, min_gain=0.02, max_payback_months=6)
    assert v.label == JUSTIFIED and str(v.label) == "FINE-TUNE JUSTIFIED"
    for part in ("+0.120", "95% CI +0.050 to +0.190", "p=0.003", "n=200", "4.7 months",
                 "limit 6"):
        assert part in v.reason
    assert v.reason.endswith(".") and v.reason.count(". ") == 0


def test_justified_without_economics_says_payback_unchecked() -> None:
    v = decide(_cmp(0.12, 0.05, 0.19), None, min_gain=0.02, max_payback_months=6)
    assert v.label == JUSTIFIED
    assert "not checked" in v.reason


def test_does_not_pay_back() -> None:
    slow = decide(_cmp(0.12, 0.05, 0.19), SLOW, min_gain=0.02, max_payback_months=6)
    assert slow.label == NO_PAYBACK and str(slow.label) == "NOT JUSTIFIED: does not pay back"
    assert "46.7 months" in slow.reason
    never = decide(_cmp(0.12, 0.05, 0.19), NEVER, min_gain=0.02, max_payback_months=6)
    assert never.label == NO_PAYBACK and "never pays back" in never.reason
    assert math.isinf(NEVER.payback_months)


def test_gain_too_small() -> None:
    v = decide(_cmp(0.005, -0.01, 0.019, p=0.4), PAYS, min_gain=0.02, max_payback_months=6)
    assert v.label == TOO_SMALL and str(v.label) == "NOT JUSTIFIED: gain too small"
    assert "p=0.400" in v.reason and "-0.010" in v.reason


def test_inconclusive_asks_for_n_needed_minus_n() -> None:
    v = decide(_cmp(0.03, -0.01, 0.07, n=200, n_needed=650), PAYS, min_gain=0.02,
               max_payback_months=6)
    # n_needed 650 - n 200 = 450: a field of the label, and the text quotes it.
    assert str(v.label) == "INCONCLUSIVE: need ~450 more examples"
    assert v.label.outcome is Outcome.INCONCLUSIVE and v.label.examples_needed == 450
    assert v.more_examples == 450 and "450 more" in v.reason
    floor = decide(_cmp(0.03, -0.01, 0.07, n=200, n_needed=150), PAYS, min_gain=0.02,
                   max_payback_months=6)
    assert floor.label == inconclusive_label(1)


def test_too_few_examples_is_inconclusive_first() -> None:
    rag = _cmp(0.3, 0.2, 0.4, n=200)
    v = decide(_cmp(0.5, 0.3, 0.7, n=8, n_needed=40), PAYS, min_gain=0.02,
               max_payback_months=6, rag_comparison=rag)
    assert v.label == inconclusive_label(32)
    assert "Only 8 paired test examples (minimum 10)" in v.reason
    unknown = decide(_cmp(float("nan"), float("nan"), float("nan"), n=1, n_needed=None),
                     None, min_gain=0.0, max_payback_months=6)
    assert unknown.label == inconclusive_label(9)
    assert "n/a" in unknown.reason


def test_use_rag_when_rag_wins_and_lora_does_not_beat_it() -> None:
    rag = _cmp(0.30, 0.22, 0.38, p=0.0001)
    v = decide(_cmp(0.15, 0.08, 0.22), PAYS, min_gain=0.02, max_payback_months=6,
               rag_comparison=rag)
    assert v.label == USE_RAG and str(v.label) == "USE RAG: knowledge gap"
    assert "+0.300" in v.reason and "p<0.001" in v.reason and "+0.150" in v.reason


@pytest.mark.parametrize("rag", [
    _cmp(0.05, 0.01, 0.09),  # LoRA's lower bound 0.33 is above RAG's gain.
    _cmp(0.40, -0.01, 0.80),  # RAG is not significant.
    _cmp(0.40, 0.30, 0.50, n=5),  # Too few RAG examples to lean on.
])
def test_no_rag_verdict_otherwise(rag: Comparison) -> None:
    v = decide(_cmp(0.40, 0.33, 0.47), PAYS, min_gain=0.02, max_payback_months=6,
               rag_comparison=rag)
    assert v.label == JUSTIFIED


def test_end_to_end_from_scores() -> None:
    rng = np.random.default_rng(0)
    ids = [f"ex{i}" for i in range(300)]
    base = rng.integers(0, 2, 300).astype(float)
    lora = np.where(rng.random(300) < 0.3, 1.0, base)
    c = compare(ids, base, ids, lora, "binary", np.random.default_rng(1), min_gain=0.02)
    assert decide(c, PAYS, min_gain=0.02, max_payback_months=6).label == JUSTIFIED
    same = compare(ids, base, ids, base, "binary", np.random.default_rng(1), min_gain=0.02)
    assert decide(same, PAYS, min_gain=0.02, max_payback_months=6).label == TOO_SMALL


def test_exit_codes() -> None:
    assert exit_code(JUSTIFIED) == 0
    assert exit_code(TOO_SMALL) == exit_code(NO_PAYBACK) == exit_code(USE_RAG) == 1
    assert exit_code(inconclusive_label(12)) == 3


def test_a_label_read_back_from_results_json_keeps_its_count_without_parsing_text() -> None:
    # results.json: {"label": "INCONCLUSIVE: need ~12 more examples", "examples_needed": 12};
    # the count comes from its own field (a text that says ~99 does not change it).
    read = TaskVerdict.model_validate({"label": "INCONCLUSIVE: need ~99 more examples",
                                       "examples_needed": 12, "reason": "x"})
    assert read.label == inconclusive_label(12) and read.label.exit_code == 3
    assert TaskVerdict.model_validate({"label": "USE RAG: knowledge gap",
                                       "reason": "x"}).label == USE_RAG
    with pytest.raises(ValueError, match="not a verdict label"):
        TaskVerdict.model_validate({"label": "MAYBE", "reason": "x"})


def _v(label: VerdictLabel, more: int | None = None) -> Verdict:
    assert more == label.examples_needed  # the count travels with the label
    return Verdict(label, "because.")


def test_overall_all_justified_passes() -> None:
    v = overall({"intent": _v(JUSTIFIED), "format": _v(JUSTIFIED)})
    assert v.label == JUSTIFIED and "intent" in v.reason and exit_code(v.label) == 0


def test_overall_any_failure_fails_even_with_inconclusive() -> None:
    v = overall({"a": _v(JUSTIFIED), "b": _v(inconclusive_label(40), 40), "c": _v(NO_PAYBACK)})
    assert v.label == NO_PAYBACK and exit_code(v.label) == 1
    assert "1 of 3 tasks fail: c (NOT JUSTIFIED: does not pay back)" in v.reason
    assert v.reason.endswith("; fine-tuning is justified on a.")


def test_overall_failure_label_majority_then_precedence() -> None:
    majority = overall({"a": _v(USE_RAG), "b": _v(USE_RAG), "c": _v(TOO_SMALL)})
    assert majority.label == USE_RAG
    tie = overall({"a": _v(USE_RAG), "b": _v(NO_PAYBACK)})
    assert tie.label == NO_PAYBACK
    tie3 = overall({"a": _v(USE_RAG), "b": _v(NO_PAYBACK), "c": _v(TOO_SMALL)})
    assert tie3.label == TOO_SMALL


def test_overall_inconclusive_sums_examples() -> None:
    v = overall({"a": _v(JUSTIFIED), "b": _v(inconclusive_label(40), 40),
                 "c": Verdict(inconclusive_label(25), "x")})
    assert v.label == inconclusive_label(65) and v.more_examples == 65
    assert exit_code(v.label) == 3


def test_overall_rejects_empty_and_unknown() -> None:
    with pytest.raises(ValueError, match="no task verdicts"):
        overall({})
    # An unknown label cannot reach overall(): VerdictLabel holds an Outcome (see
    # test_a_label_read_back_from_results_json_keeps_its_count_without_parsing_text).


def test_verdict_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _v(JUSTIFIED).label = TOO_SMALL  # type: ignore[misc]
