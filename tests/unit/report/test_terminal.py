"""The end-of-command table: rows from results.json, plain, stacked and rich layouts."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from harness.analysis.model import RunResults
from harness.report.terminal import (
    Row,
    base_rows,
    decisions_headline,
    headers,
    plain_lines,
    rich_table,
    run_headline,
    run_rows,
    stacked_lines,
)
from tests.unit import resultskit as kit


def _results() -> RunResults:
    return kit.results({"confidence": 0.9, "verdict": {
        "label": "USE RAG: knowledge gap", "reason": "1 of 2 tasks fail.",
        "headline": "MIXED: fine-tuning justified on 1 of 2 tasks; kb: use RAG (knowledge gap)",
        "gate": "gate: fails (exit 1) because 1 task fails (...)"},
        "tasks": [
            {"task": "route", "baseline": "few", "candidate": "lora",
             "baseline_reason": "highest dev score 0.500 (vs zero 0.250)",
             "variants": [{"name": "few", "score": 0.075}, {"name": "lora", "score": 0.9}],
             "comparisons": [{"candidate": "lora", "delta": 0.825, "ci_low": 0.7,
                              "ci_high": 0.925}],
             "economics": {"payback_months": 0.2543, "never_pays_back": False},
             "verdict": {"label": "FINE-TUNE JUSTIFIED", "reason": "ok."}},
            {"task": "kb", "baseline": "bare", "candidate": "lora",
             "baseline_reason": "no dev scores; using the first listed prompt variant 'bare'",
             "variants": [{"name": "bare", "score": 0.15}, {"name": "lora", "score": None}],
             "comparisons": [{"candidate": "lora", "delta": 0.025, "ci_low": None,
                              "ci_high": None}],
             "economics": {"payback_months": None, "never_pays_back": True},
             "verdict": {"label": "USE RAG: knowledge gap", "reason": "rag."}},
            {"task": "solo", "baseline": "few", "candidate": None, "comparisons": [],
             "baseline_reason": "highest dev score 0.300",
             "variants": [{"name": "few", "score": 0.3}], "verdict": None,
             "decision_note": "no fine-tuned (lora) variant in this run: nothing to decide"},
            {"task": "empty", "baseline": None, "variants": [], "comparisons": []}]})


def test_rows_hold_the_numbers_in_points() -> None:
    rows = run_rows(_results())
    assert rows == [
        # 7.5% -> 7.5; the gain 0.825 -> +82.5 points with its interval; 0.2543 -> 0.3 months.
        Row("route", "few 7.5 (best on dev)", "lora 90.0", "+82.5 [+70.0, +92.5]",
            "FINE-TUNE JUSTIFIED", "0.3 months"),
        # No interval (None) is left out; a missing score is n/a; never pays back.
        Row("kb", "bare 15.0 (first listed, no dev)", "lora n/a", "+2.5",
            "USE RAG: knowledge gap", "never"),
        Row("solo", "few 30.0 (best on dev)", "-", "-", "no verdict", "-"),
        Row("empty", "-", "-", "-", "no records", "-")]
    assert headers(0.9)[3] == "gain, points [90% CI]"


def test_headline_and_gate_come_from_the_verdict() -> None:
    assert run_headline(_results()) == (
        "MIXED: fine-tuning justified on 1 of 2 tasks; kb: use RAG (knowledge gap)",
        "gate: fails (exit 1) because 1 task fails (...)")
    old = _results().model_copy(update={"verdict": kit.results(
        verdict={"label": "USE RAG: knowledge gap", "reason": "r"}).verdict})  # no headline
    assert run_headline(old) == ("USE RAG: knowledge gap", None)
    none = kit.results(tasks=[{"task": "t", "comparisons": [], "variants": [{"name": "p"}]}])
    assert run_headline(none) == ("no verdict: no task has two variants to compare", None)


def test_plain_lines_are_aligned_columns() -> None:
    rows = [Row("a", "bb", "c", "d", "e", "f"), Row("long_task", "b", "c", "d", "e", "f")]
    assert plain_lines(rows, ("t", "base", "cand", "gain", "verdict", "payback")) == [
        "t          base  cand  gain  verdict  payback",
        "a          bb    c     d     e        f",
        "long_task  b     c     d     e        f"]


def test_stacked_lines_one_block_per_task() -> None:
    rows = [Row("a", "b1", "c1", "+1.0", "V", "never")]
    assert stacked_lines(rows, ("task", "baseline", "candidate", "gain", "verdict", "payback")
                         ) == ["a", "  baseline: b1", "  candidate: c1", "  gain: +1.0",
                               "  verdict: V", "  payback: never"]


def test_rich_table_wraps_to_the_width() -> None:
    buf = io.StringIO()
    Console(file=buf, width=80, no_color=True).print(rich_table(run_rows(_results()),
                                                                headers(0.95)))
    lines = buf.getvalue().splitlines()
    assert max(len(x) for x in lines) <= 80
    assert any("FINE-TUNE" in x for x in lines) and any(x.startswith("route") for x in lines)


def test_compare_base_rows_and_headline() -> None:
    results = kit.results(tasks=[{"task": "codes", "variants": [
        {"name": "ft@embedded", "score": 0.8}, {"name": "p@embedded:q8_0", "score": 0.4}],
        "comparisons": [{"candidate": "ft@embedded", "delta": 0.4, "ci_low": 0.2,
                         "ci_high": 0.6}]}])
    d = SimpleNamespace(task="codes", label="RETRAIN", old_adapter="ft@embedded",
                        new_prompt="p@embedded:q8_0", reason="...; retraining costs about $3")
    assert base_rows(results, [d]) == [Row("codes", "p@embedded:q8_0 40.0 (best on dev)",
                                           "ft@embedded 80.0", "+40.0 [+20.0, +60.0]",
                                           "RETRAIN", "see the reason")]
    assert decisions_headline([("a", "RETRAIN")]) == "RETRAIN"
    assert decisions_headline([("a", "RETIRE ADAPTER"), ("b", "RETRAIN"),
                               ("c", "RETIRE ADAPTER")]) == (
        "MIXED: a, c: RETIRE ADAPTER; b: RETRAIN")
