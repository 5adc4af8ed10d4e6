"""The headline (MIXED when tasks disagree) and the gate's rule in report.md and index.html."""

from __future__ import annotations

import os
import warnings

import matplotlib
import pytest

from harness.report.fonts import FALLBACK, font_families
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.plots import confusion_png
from tests.unit import resultskit as kit

HEAD = "MIXED: fine-tuning justified on 1 of 2 tasks; b: <use RAG> (knowledge gap)"
GATE = "gate: fails (exit 1) because 1 task fails (it passes only when every task ...)"


def _results(verdict):
    task = {"task": "a", "family": "classification", "metric": "accuracy", "baseline": None,
            "variants": [], "comparisons": [], "verdict": {"label": "FINE-TUNE JUSTIFIED",
                                                           "reason": "ok."}}
    return kit.results({"run_id": "r", "created": "t", "config_path": "c.yaml",
                        "config_digest": "d", "seed": 1, "status": "done", "model_calls": 0,
                        "confidence": 0.95, "verdict": verdict, "tasks": [task]})


VERDICT = {"label": "USE RAG: knowledge gap", "reason": "1 of 2 tasks fail: b.",
           "headline": HEAD, "gate": GATE}


def test_markdown_leads_with_the_headline_and_the_gate_rule():
    md = render_markdown(_results(VERDICT))
    assert (f"\n**Verdict: {HEAD}.** 1 of 2 tasks fail: b.\n\n"
            f"Gate: fails (exit 1) because 1 task fails (it passes only when every task ...)."
            "\n\n- **a**: FINE-TUNE JUSTIFIED: ok.\n") in md


def test_html_leads_with_the_headline_escaped_and_the_gate_rule():
    page = render_html(_results(VERDICT), [], {})
    box = page[page.index('id="verdict"'):page.index('id="overview"')]
    assert 'class="verdict v-mixed"' in page
    assert ('<div class="label">MIXED: fine-tuning justified on 1 of 2 tasks; b: '
            '&lt;use RAG&gt; (knowledge gap)</div><p class="gate">Gate: fails (exit 1)') in box
    assert "<title>tunegate report r: MIXED: fine-tuning" in page


def test_an_agreeing_run_keeps_its_label_and_colour():
    same = dict(VERDICT, label="FINE-TUNE JUSTIFIED", headline="FINE-TUNE JUSTIFIED",
                gate="gate: passes (exit 0): the task justifies fine-tuning")
    page = render_html(_results(same), [], {})
    assert 'class="verdict v-good"' in page
    assert '<div class="label">FINE-TUNE JUSTIFIED</div>' in page
    md = render_markdown(_results(same))
    assert "**Verdict: FINE-TUNE JUSTIFIED.**" in md and "Gate: passes (exit 0)" in md


LABELS = ["配送", "طلب", "😀 ok", "ORCA", "मदद", "Ελλάδα", "✓ done"]


def _task():
    return kit.task({"task": "t", "family": "classification", "baseline": "p", "variants": [
        {"name": "p", "kind": "prompt", "n": 7,
         "confusion": {"labels": LABELS, "matrix": [[1] * 7] * 7}}]})


def _missing_glyphs(draw) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert draw() is not None
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_labels_in_any_script_render_in_the_figures():
    wanted = {"Noto Sans CJK JP", "Noto Sans Arabic", "Noto Sans Devanagari", "Symbola"}
    if not wanted <= set(font_families()):
        if os.environ.get("CI"):
            pytest.fail(f"fonts missing on CI: {wanted - set(font_families())} (.ci/run "
                        "installs fonts-noto-core, fonts-noto-cjk, fonts-symbola)")
        pytest.skip("wide-coverage fonts not installed (apt: fonts-noto-core fonts-noto-cjk "
                    "fonts-symbola)")
    # With matplotlib's own font only, CJK, Arabic, Devanagari and emoji are empty boxes:
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        assert _missing_glyphs(lambda: confusion_png.__wrapped__(_task()))
    # With the fallback list every glyph is found.
    assert _missing_glyphs(lambda: confusion_png(_task())) == []


def test_fallback_list_starts_with_dejavu_and_keeps_only_installed_fonts():
    families = font_families()
    assert families[0] == "DejaVu Sans"
    assert [f for f in FALLBACK if f in families] == families  # order kept, nothing invented
