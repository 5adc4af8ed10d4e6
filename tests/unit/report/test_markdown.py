"""report.md: verdict lines first when the results carry verdicts."""

from __future__ import annotations

from harness.report.markdown import render_markdown
from tests.unit import resultskit as kit


def _results(verdict=None, task_verdict=None, **task_extra):
    return kit.results({
            "run_id": "r", "created": "t", "config_path": "c.yaml", "config_digest": "d",
            "seed": 1, "status": "done", "confidence": 0.95, "verdict": verdict,
            "tasks": [{"task": "toy", "family": "classification", "metric": "accuracy",
                       "variants": [], "comparisons": [], "baseline": None,
                       "verdict": task_verdict, **task_extra},
                      {"task": "other", "family": "classification", "metric": "accuracy",
                       "variants": [], "comparisons": [], "baseline": None,
                       "decision_note": "no fine-tuned (lora) variant in this run"}]})


def test_verdict_lines_come_right_after_the_header():
    md = render_markdown(_results(
        {"label": "NOT JUSTIFIED: gain too small", "reason": "1 of 2 tasks fail: toy."},
        {"label": "NOT JUSTIFIED: gain too small", "reason": "Even the CI upper bound..."}))
    head = md.split("## toy")[0]
    assert head.startswith("# tunegate report: run r\n\nCreated t from `c.yaml`")
    assert "\n**Verdict: NOT JUSTIFIED: gain too small.** 1 of 2 tasks fail: toy.\n\n" in head
    assert "- **toy**: NOT JUSTIFIED: gain too small: Even the CI upper bound...\n" in head
    assert "- **other**: no verdict: no fine-tuned (lora) variant in this run\n" in head


def test_task_verdict_without_an_overall_one():
    md = render_markdown(_results(None, {"label": "FINE-TUNE JUSTIFIED", "reason": "ok."}))
    assert "**No overall verdict.**" in md and "- **toy**: FINE-TUNE JUSTIFIED: ok." in md


def test_no_verdicts_no_verdict_lines():
    md = render_markdown(_results())
    assert "Verdict" not in md and "no verdict" not in md
    assert md.startswith("# tunegate report: run r\n\nCreated t")
