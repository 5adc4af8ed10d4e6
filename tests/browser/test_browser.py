"""The HTML report in headless Chromium: verdict, images, filters, no network, no XSS.

Reports come from fake-backend runs (no model is loaded). Chromium is driven
over the DevTools protocol (see conftest.py); the tests skip without it.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest

from harness.analysis.model import RunResults
from harness.cli import main
from harness.report.html import verdict_of
from harness.store import Store

pytestmark = pytest.mark.browser

VISIBLE_ROWS = ("Array.from(document.querySelectorAll('table.examples tbody tr'))"
                ".filter(r => r.offsetParent !== null).length")

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea>",
            "<svg onload=alert(1)>", "</pre></td></tr></table><script>alert(2)</script>"]


def _run(config: Path, tmp_path: Path) -> tuple[Path, Path]:
    store, reports = tmp_path / "store", tmp_path / "reports"
    assert main(["run", str(config), "--store", str(store), "--reports", str(reports)]) == 0
    (run_dir,) = reports.iterdir()
    return store, run_dir


def _local_only(urls: list[str]) -> None:
    assert urls, "the page made no request at all: did it load?"
    assert all(u.startswith(("file:", "data:")) for u in urls), urls
    assert sum(u.startswith("file:") for u in urls) == 1, urls  # index.html only


def _nontrivial_png(png: bytes) -> None:
    from PIL import Image

    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.size == (1280, 900)
    colors = img.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 100


def test_report_shows_verdict_images_and_filters(page, toy_project, tmp_path):
    _, run_dir = _run(toy_project(tmp_path / "proj"), tmp_path)
    results = RunResults.from_json((run_dir / "results.json").read_bytes())
    page.goto(run_dir / "index.html")
    _nontrivial_png(page.screenshot(tmp_path / "report.png"))

    label, reason = verdict_of(results)
    box = page.js("(() => { const r = document.querySelector('#verdict')"
                  ".getBoundingClientRect(); return [r.top, r.height]; })()")
    assert 0 <= box[0] < 900 and box[1] > 0  # in the first screen
    text = page.js("document.querySelector('#verdict').innerText")
    assert (label or "No verdict") in text
    assert reason.removeprefix("no verdict: ")[1:] in text
    assert "toy" in text

    imgs = page.js("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(imgs) >= 1 and all(done and width > 0 for done, width in imgs)
    assert len(imgs) == len(list(run_dir.glob("*.png")))

    # echo (baseline) vs const (always BETA): 6 rows, 3 disagree, echo wins 2, const 1.
    counts = {}
    for key in ("all", "f-dis", "f-cand", "f-base", "f-inv", "all"):
        page.click(f'button[data-filter="{key}"]')
        counts[key] = page.js(VISIBLE_ROWS)
    assert counts == {"all": 6, "f-dis": 3, "f-cand": 1, "f-base": 2, "f-inv": 0}
    assert page.js("document.querySelector('button[data-filter=\"all\"]')"
                   ".getAttribute('aria-pressed')") == "true"

    _local_only(page.requests())
    assert page.exceptions() == []
    assert page.js("window.__csp") == []


def test_outputs_and_inputs_are_text_not_markup(page, toy_project, tmp_path):
    config = toy_project(tmp_path / "proj", test_texts=PAYLOADS)
    store_dir, run_dir = _run(config, tmp_path)
    store = Store(store_dir)
    run = store.get_run("latest")
    for i, rec in enumerate(r for r in store.records(run.run_id)
                            if r.split == "test" and r.variant == "const"):
        payload = PAYLOADS[i % len(PAYLOADS)]
        if i == 0:
            store.put_record(dataclasses.replace(rec, output={}, scores={},
                                                 error=f"transient: {payload}"))
            continue
        store.put_record(dataclasses.replace(
            rec, output={"text": payload, "prediction": None, "detail": {}},
            scores={"label_accuracy": {"value": 0.0, "explanation": payload,
                                       "detail": {"invalid": True}}}))
    store.close()
    assert main(["report", "--store", str(store_dir), "--reports", str(tmp_path / "again")]) == 0
    run_dir = tmp_path / "again" / run_dir.name
    page.goto(run_dir / "index.html")
    page.screenshot(tmp_path / "xss.png")

    assert page.js("window.__xss") == 0
    label, _ = verdict_of(RunResults.from_json((run_dir / "results.json").read_bytes()))
    assert page.js("document.title") == f"tunegate report {run_dir.name}: {label or 'no verdict'}"
    assert page.js("document.querySelectorAll('[onerror], [onload]').length") == 0
    assert page.js("document.scripts.length") == 1
    assert page.js("document.querySelectorAll('textarea, svg').length") == 0
    assert page.js("document.images.length") == len(list(run_dir.glob("*.png")))
    body = page.js("document.body.innerText")
    for payload in PAYLOADS:
        assert payload in body
    assert "failed: transient: <script>alert(1)</script>" in body
    assert "1 example failed after retries" in body
    page.click('button[data-filter="f-inv"]')
    assert page.js(VISIBLE_ROWS) == 6
    _local_only(page.requests())
    assert page.exceptions() == []
    assert page.js("window.__csp") == []


def test_large_tables_paginate(page, tmp_path):
    from harness.report.html import render_html
    from harness.report.sidebyside import Cell, Row, TaskExamples

    rows = [Row(f"e{i}", f"input {i}", "A", {
        "p": Cell("A", "A", 1.0), "q": Cell("B" if i % 5 == 0 else "A",
                                            "B" if i % 5 == 0 else "A",
                                            0.0 if i % 5 == 0 else 1.0)}) for i in range(250)]
    from tests.unit import resultskit as kit

    variants = [{"name": n, "kind": "prompt", "model": "m", "score": 0.9, "n": 250}
                for n in ("p", "q")]
    results = kit.results({
        "run_id": "big", "created": "2026-01-01T00:00:00+00:00", "config_path": "c.yaml",
        "config_digest": "d", "seed": 1, "status": "done", "model_calls": 0,
        "confidence": 0.95,
        "tasks": [kit.task({"task": "t", "family": "classification", "metric": "accuracy",
                            "baseline": "p", "baseline_reason": "best", "variants": variants,
                            "comparisons": []})]})
    path = tmp_path / "index.html"
    path.write_text(render_html(results, [], {"t": TaskExamples("t", rows)}))
    page.goto(path)
    info = "document.querySelector('.pageinfo').textContent"
    assert page.js(VISIBLE_ROWS) == 100
    assert page.js(info) == "rows 1\u2013100 of 250 (page 1 of 3)"
    page.click(".next")
    page.click(".next")
    assert page.js(VISIBLE_ROWS) == 50
    assert page.js("document.querySelector('.next').disabled") is True
    page.click('button[data-filter="f-dis"]')  # a filter starts again on page 1
    assert page.js(info) == "rows 1\u201350 of 50"
    assert page.js("document.querySelector('.prev').disabled") is True
    _local_only(page.requests())
    assert page.exceptions() == []
