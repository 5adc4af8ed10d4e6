"""The run's headline says when its tasks disagree; the gate's rule is stated beside it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.analysis.model import VerdictLabel
from harness.analysis.verdict import (
    JUSTIFIED,
    NO_PAYBACK,
    TOO_SMALL,
    USE_RAG,
    Verdict,
    exit_code,
    gate_statement,
    headline,
    inconclusive_label,
    overall,
)

RULE = "(it passes only when every task justifies fine-tuning)"


def _v(label: VerdictLabel) -> Verdict:
    return Verdict(label, "numbers.")


def test_the_demo_case_is_mixed_not_the_worst_label() -> None:
    # Four tasks justify fine-tuning, one needs retrieval: the gate's label is USE RAG,
    # but the headline must not read as if nothing were justified.
    verdicts = {n: _v(JUSTIFIED) for n in ("support_routing", "support_record", "house_tone",
                                           "ops_acronyms")}
    verdicts["corvane_policies"] = _v(USE_RAG)
    assert overall(verdicts).label == USE_RAG  # the gate's rule, unchanged
    assert headline(verdicts) == ("MIXED: fine-tuning justified on 4 of 5 tasks; "
                                  "corvane_policies: use RAG (knowledge gap)")
    assert gate_statement(verdicts) == f"gate: fails (exit 1) because 1 task fails {RULE}"


def test_other_labels_are_grouped_in_order_of_appearance() -> None:
    verdicts = {"a": _v(JUSTIFIED), "b": _v(TOO_SMALL), "c": _v(inconclusive_label(40)),
                "d": _v(TOO_SMALL), "e": _v(NO_PAYBACK)}
    assert headline(verdicts) == (
        "MIXED: fine-tuning justified on 1 of 5 tasks; b, d: not justified (gain too small); "
        "c: inconclusive (need ~40 more examples); e: not justified (does not pay back)")
    assert gate_statement(verdicts) == f"gate: fails (exit 1) because 3 tasks fail {RULE}"


def test_agreeing_tasks_give_their_label() -> None:
    assert headline({"a": _v(JUSTIFIED)}) == str(JUSTIFIED)
    assert headline({"a": _v(TOO_SMALL), "b": _v(TOO_SMALL)}) == f"{TOO_SMALL} (all 2 tasks)"
    assert gate_statement({"a": _v(JUSTIFIED)}) == (
        "gate: passes (exit 0): the task justifies fine-tuning")
    assert gate_statement({"a": _v(JUSTIFIED), "b": _v(JUSTIFIED), "c": _v(JUSTIFIED)}) == (
        "gate: passes (exit 0): all 3 tasks justify fine-tuning")


def test_inconclusive_without_failure_exits_3() -> None:
    verdicts = {"a": _v(JUSTIFIED), "b": _v(inconclusive_label(12))}
    assert headline(verdicts) == ("MIXED: fine-tuning justified on 1 of 2 tasks; "
                                  "b: inconclusive (need ~12 more examples)")
    assert gate_statement(verdicts) == (
        f"gate: inconclusive (exit 3) because 1 task is inconclusive and none fails {RULE}")
    two = {"a": _v(inconclusive_label(3)), "b": _v(inconclusive_label(4))}
    assert gate_statement(two).startswith("gate: inconclusive (exit 3) because 2 tasks are ")


def test_empty_is_an_error() -> None:
    with pytest.raises(ValueError):
        headline({})
    with pytest.raises(ValueError):
        gate_statement({})


LABELS = st.sampled_from([JUSTIFIED, TOO_SMALL, NO_PAYBACK, USE_RAG, inconclusive_label(7),
                          inconclusive_label(30)])


@given(st.dictionaries(st.text("abcdefgh", min_size=1, max_size=4), LABELS, min_size=1,
                       max_size=8))
def test_headline_and_gate_agree_with_the_gate_rule(labels: dict[str, VerdictLabel]) -> None:
    verdicts = {k: _v(v) for k, v in labels.items()}
    code = exit_code(overall(verdicts).label)
    assert f"(exit {code})" in gate_statement(verdicts)
    text = headline(verdicts)
    assert text.startswith("MIXED: ") == (len(set(labels.values())) > 1)
    if text.startswith("MIXED: "):
        justified = sum(v == JUSTIFIED for v in labels.values())
        assert f"justified on {justified} of {len(labels)} tasks" in text
        for name, label in labels.items():  # every task that is not justified is named
            assert label == JUSTIFIED or name in text
