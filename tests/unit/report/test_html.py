"""index.html: self-contained, verdict first, escaped, filterable, small for big runs."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re

import pytest

from harness.backends import base as backends_base
from harness.backends.fake import FakeBackend
from harness.cli import main
from harness.report.html import MAX_BYTES, render_html, verdict_of
from harness.report.plots import make_plots
from harness.report.sidebyside import collect_examples, render_examples
from harness.report.writer import history
from harness.store import Record, RunRow, Store
from tests.unit import resultskit as kit

PAYLOADS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</textarea>"]


def _run(project, tmp_path, capsys, two=True):
    if two:
        project.write("const.j2", "Answer: BETA")
        project.write("const.yaml", "name: const\ntemplate: const.j2\n")
        text = project.config.read_text().replace("  - echo.yaml\n",
                                                  "  - echo.yaml\n  - const.yaml\n")
        project.config.write_text(text)
    store, reports = tmp_path / "store", tmp_path / "reports"
    assert main(["run", str(project.config), "--store", str(store),
                 "--reports", str(reports)]) == 0
    capsys.readouterr()
    return store, max(reports.iterdir(), key=lambda p: p.stat().st_mtime)


def _report(store, tmp_path, name="again"):
    assert main(["report", "--store", str(store), "--reports", str(tmp_path / name)]) == 0
    (run_dir,) = (tmp_path / name).iterdir()
    return run_dir, (run_dir / "index.html").read_text(encoding="utf-8")


def _forbid_model_calls(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a report must not call a model")

    monkeypatch.setattr(backends_base, "create", boom)
    monkeypatch.setattr(FakeBackend, "score", boom)
    monkeypatch.setattr(FakeBackend, "generate", boom)


def _variant(name, kind="prompt", score=0.5, errors=0):
    return {"name": name, "kind": kind, "model": "m", "score": score, "ci_low": score - 0.1,
            "ci_high": score + 0.1, "n": 10, "errors": errors, "prompt_tokens_mean": 20.0,
            "metrics": {"macro_f1": score, "invalid_rate": 0.0},
            "confusion": {"labels": ["A", "B"], "matrix": [[3, 2], [2, 3]]}}


def _results(tasks, **extra):
    return kit.results({"run_id": "r1", "created": "2026-01-01T00:00:00+00:00",
                        "config_path": "c.yaml", "config_digest": "d", "seed": 1,
                        "status": "done", "model_calls": 3, "confidence": 0.95,
                        "tasks": tasks, **extra})


def _task(name="t", variants=None, **extra):
    variants = variants if variants is not None else [_variant("p"), _variant("ft", "lora", .7)]
    comps = [{"baseline": variants[0]["name"], "candidate": v["name"], "delta": 0.2,
              "ci_low": 0.05, "ci_high": 0.35, "n": 10, "wins": 3, "losses": 1, "ties": 6,
              "p_value": 0.02, "p_holm": 0.04} for v in variants[1:]]
    return kit.task({"task": name, "family": "classification", "metric": "accuracy",
                     "baseline": variants[0]["name"] if variants else None,
                     "baseline_reason": "best", "variants": variants, "comparisons": comps,
                     **extra})


def _run_row(tasks, models=("m",)):
    return RunRow("r1", "2026-01-01T00:00:00+00:00", None, "done", "c.yaml", "d",
                  {"tasks": tasks, "models": list(models)}, 3)


def _rec(variant, ex_id, text, pred, value, *, task="t", error=None, detail=None):
    output = {} if error else {"text": text, "prediction": pred, "detail": detail or {}}
    scores = {} if error else {"label_accuracy": {
        "value": value, "explanation": f"gold A, got {text}",
        "detail": {"invalid": pred is None}}}
    return Record("r1", task, "dg", variant, "m", "test", ex_id, 0, "A", output, scores,
                  10, 1, 0.0, False, error)


def _script_and_style(page):
    js = re.search(r"<script>(.*)</script>", page, re.S).group(1)
    css = re.search(r"<style>(.*)</style>", page, re.S).group(1)
    return js, css


def _sha(text):
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_writer_writes_a_self_contained_page(project, tmp_path, capsys):
    _, run_dir = _run(project, tmp_path, capsys)
    page = (run_dir / "index.html").read_text(encoding="utf-8")
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    assert pngs == ["confusion-0-toy.png", "forest.png", "matrix.png"]
    assert "http://" not in page and "https://" not in page
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert len(refs) == 3 and all(r.startswith("data:image/png;base64,") for r in refs)
    for name in pngs:
        data = base64.b64encode((run_dir / name).read_bytes()).decode()
        assert f"data:image/png;base64,{data}" in page
    js, css = _script_and_style(page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert f"script-src 'sha256-{_sha(js)}'" in csp and f"style-src 'sha256-{_sha(css)}'" in csp
    assert "default-src 'none'" in csp
    assert page.count("<script") == 1 and "style=" not in page
    assert page.index('id="verdict"') < page.index('id="overview"')
    # inputs come from the task file; every test example is a row
    assert "te message 4 is about BETA" in page
    assert page.count('<td class="id">') == 6


def test_report_regenerates_index_identically_without_model_calls(
        project, tmp_path, capsys, monkeypatch):
    store, run_dir = _run(project, tmp_path, capsys)
    _forbid_model_calls(monkeypatch)
    again, _ = _report(store, tmp_path)
    for path in run_dir.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
    assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in run_dir.iterdir())


def test_trend_appears_from_the_second_run_of_a_config(project, tmp_path, capsys):
    store_dir, _ = _run(project, tmp_path, capsys)
    assert main(["run", str(project.config), "--store", str(store_dir),
                 "--reports", str(tmp_path / "r2")]) == 0
    capsys.readouterr()
    (second,) = (tmp_path / "r2").iterdir()
    assert (second / "trend.png").is_file()
    assert 'id="fig-trend"' in (second / "index.html").read_text()
    store = Store(store_dir)
    first_run, second_run = store.runs()
    assert history(store, first_run) == []
    assert [r.run_id for r in history(store, second_run)] == [first_run.run_id]
    store.close()


def test_one_variant_says_no_comparison(project, tmp_path, capsys):
    _, run_dir = _run(project, tmp_path, capsys, two=False)
    page = (run_dir / "index.html").read_text()
    assert "No comparison is possible: this task has only one variant" in page
    assert "no verdict: only one variant, so no comparison is possible" in page
    assert not (run_dir / "forest.png").exists()


def test_failed_examples_are_counted_and_marked(project, tmp_path, capsys):
    store_dir, _ = _run(project, tmp_path, capsys)
    store = Store(store_dir)
    run = store.get_run("latest")
    failing = [r for r in store.records(run.run_id) if r.split == "test"][:2]
    for rec in failing:
        store.put_record(dataclasses.replace(rec, output={}, scores={},
                                             error="transient: server went away"))
    store.close()
    _, page = _report(store_dir, tmp_path)
    assert "2 examples failed after retries" in page
    assert page.count("<b>failed</b>: transient: server went away") == 2
    assert '<td class="num failed">2</td>' in page
    assert re.search(r'data-filter="f-inv"[^>]*>invalid output \(2\)', page)


def test_inputs_come_from_the_records_not_the_task_file(project, tmp_path, capsys):
    store_dir, _ = _run(project, tmp_path, capsys)
    # The task file changes, then disappears: the report still shows the inputs the
    # run's model saw (recorded with each record), with no note about the file.
    test_file = project.data / "test.jsonl"
    test_file.write_text(test_file.read_text().replace(" message ", " note "))
    _, page = _report(store_dir, tmp_path, "changed")
    assert "te message 4 is about BETA" in page and "te note 4" not in page
    project.task.unlink()
    _, page = _report(store_dir, tmp_path, "gone")
    assert "te message 4 is about BETA" in page
    assert "input of" not in page and "current version" not in page


def test_a_version_1_run_says_its_inputs_are_unknown():
    # Two examples, one recorded without its input (a record migrated from store
    # schema version 1): its id stands in, and the note counts 1 of 2 unknown.
    records = [_rec("p", "e1", "A", "A", 1.0),
               dataclasses.replace(_rec("p", "e2", "A", "A", 1.0), input="hello there")]
    examples = collect_examples(_run_row([{"name": "t"}]), records)["t"]
    assert [(r.example_id, r.input) for r in examples.rows] == [("e1", "e1"),
                                                                ("e2", "hello there")]
    assert examples.input_note.startswith("The input of 1 of its 2 examples is unknown")
    page = render_examples(_task(variants=[_variant("p")]), examples, 10**6)
    assert "store schema version 1" in page and "<td><pre>e1</pre></td>" in page


def test_everything_from_a_run_is_escaped():
    names = [{"name": "t", "path": None}]
    records = []
    for i, payload in enumerate(PAYLOADS):
        records += [_rec("p", f"{payload}{i}", "A", "A", 1.0),
                    _rec("ft", f"{payload}{i}", payload, None, 0.0,
                         detail={"passages": [payload, {"text": payload}]}),
                    _rec("rag", f"{payload}{i}", "", "", 0.0, error=payload)]
    task = _task(variants=[_variant("p"), _variant("ft", "lora"), _variant("rag", "rag")],
                 note=PAYLOADS[1], baseline_reason=PAYLOADS[2],
                 verdict={"label": "FINE-TUNE JUSTIFIED", "reason": PAYLOADS[0]})
    # A label is one of five (typed); the headline and the reasons are the run's own text.
    results = _results([task], verdict={"label": "USE RAG: knowledge gap",
                                        "reason": PAYLOADS[2], "headline": PAYLOADS[1]},
                       config_path=PAYLOADS[0])
    page = render_html(results, [], collect_examples(_run_row(names), records))
    body = page.split("</head>", 1)[1]
    assert body.count("<script") == 1 and "<img" not in body and "<textarea" not in body
    assert "</textarea>" not in page
    for payload in PAYLOADS:
        assert payload not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;/textarea&gt;" in page
    assert "<summary>retrieved</summary>" in page


def test_verdicts_open_the_page():
    tasks = [_task("a", verdict={"label": "FINE-TUNE JUSTIFIED", "reason": "gain +0.2."}),
             _task("b", verdict=None, decision_note="no fine-tuned (lora) variant")]
    results = _results(tasks, verdict={"label": "INCONCLUSIVE: need ~5 more examples",
                                       "examples_needed": 5,
                                       "reason": "1 of 2 tasks are inconclusive."})
    page = render_html(results, make_plots(results), {})
    box = page[page.index('id="verdict"'):page.index('id="overview"')]
    assert 'class="verdict v-wait"' in page
    assert "INCONCLUSIVE: need ~5 more examples" in box and "1 of 2 tasks" in box
    assert "<b>a</b>: <span class=\"pill\">FINE-TUNE JUSTIFIED</span> gain +0.2." in box
    assert "<b>b</b>: no verdict: no fine-tuned (lora) variant; paired differences:" in box
    assert "<title>tunegate report r1: INCONCLUSIVE: need ~5 more examples</title>" in page
    assert verdict_of(results) == ("INCONCLUSIVE: need ~5 more examples",
                                   "1 of 2 tasks are inconclusive.")


@pytest.mark.parametrize(("tasks", "reason"), [
    ([_task()], "no verdict: these results carry none; the paired differences are below"),
    ([_task(decision_note="no lora")], "no verdict: no lora"),
    ([_task(variants=[_variant("p")])], "no verdict: no task has two variants to compare"),
    ([], "no verdict: no task has two variants to compare")])
def test_without_verdicts_the_page_says_why(tasks, reason):
    results = _results(tasks)
    assert verdict_of(results) == (None, reason)
    page = render_html(results, [], {})
    shown = reason.removeprefix("no verdict: ")
    assert f'<div class="label">No verdict</div><p class="reason">{shown[0].upper()}' \
           f"{shown[1:]}</p>" in page


def test_task_reason_without_a_verdict():
    assert verdict_of(_task(variants=[])) == (None, "no verdict: no records for this task")
    label, why = verdict_of(_task())
    assert label is None
    assert why == "no verdict: paired differences: ft vs p +20.0 points (CI [+5.0, +35.0], n=10)"


def test_economics_table_and_chart():
    econ = {"baseline_monthly_cost_usd": 300.0, "candidate_monthly_cost_usd": 150.0,
            "one_off_cost_usd": 700.0, "payback_months": float("inf"), "horizon_months": 12,
            "training_basis": "gpu_hours", "tco_12m_usd": {"baseline": 3600.0,
                                                           "candidate": 2500.0}}
    results = _results([_task(economics=econ)])
    page = render_html(results, make_plots(results), {})
    assert "<h3>Economics</h3>" in page and 'id="fig-economics-0-t"' in page
    assert '<td>payback_months</td><td class="num">never</td>' in page
    assert '<td>tco_12m_usd (baseline)</td><td class="num">$3,600.00</td>' in page


def test_filter_flags_and_lora_label():
    rows = [_rec("p", "e1", "A", "A", 1.0), _rec("ft", "e1", "B", "B", 0.0),
            _rec("p", "e2", "B", "B", 0.0), _rec("ft", "e2", "A", "A", 1.0),
            _rec("p", "e3", "A", "A", 1.0), _rec("ft", "e3", "A", "A", 1.0),
            _rec("p", "e4", "zz", None, 0.0), _rec("ft", "e4", "A", "A", 1.0)]
    examples = collect_examples(_run_row([{"name": "t"}]), rows)["t"]
    html = render_examples(_task(), examples, 10**6)
    assert re.findall(r'<tr class="([^"]*)">', html) == [
        "f-dis f-base", "f-dis f-cand", "", "f-dis f-cand f-inv"]
    assert ">lora wins (2)</button>" in html and ">disagreements (3)</button>" in html
    plain = render_examples(_task(variants=[_variant("p"), _variant("q")]), examples, 10**6)
    assert ">candidate wins (2)</button>" in plain  # any non-baseline variant
    assert render_examples(_task(), None, 10).startswith('<p class="note">No test examples')


def _big_run(tmp_path, n, input_chars):
    data = tmp_path / "test.jsonl"
    labels = [f"LABEL_{k}" for k in range(20)]
    filler = "lorem ipsum dolor sit amet " * (input_chars // 27 + 1)
    data.write_text("".join(json.dumps({"id": f"ex{i}", "label": labels[i % 20],
                                        "text": f"{i} {filler}"[:input_chars]}) + "\n"
                            for i in range(n)))
    (tmp_path / "task.yaml").write_text(
        "name: big\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        f"target: label}}\n  files: {{test: {data.name}}}\nlabels: [{', '.join(labels)}]\n")
    records = []
    for i in range(n):
        gold = labels[i % 20]
        for variant, ok in (("prompt", i % 3 != 0), ("rag", i % 4 != 0), ("lora", i % 5 != 0)):
            pred = gold if ok else (None if i % 7 == 0 else labels[(i + 1) % 20])
            text = pred or "I think the answer might be something else entirely"
            rec = _rec(variant, f"ex{i}", text, pred, 1.0 if ok else 0.0, task="big",
                       detail={"passages": ["a passage " * 30] * 3} if variant == "rag" else {})
            records.append(dataclasses.replace(rec, target=gold,
                                               input=f"{i} {filler}"[:input_chars]))
    variants = [_variant("prompt"), _variant("rag", "rag"), _variant("lora", "lora")]
    for v in variants:
        v["confusion"] = {"labels": labels, "matrix": [[1] * 20 for _ in range(20)]}
    results = _results([_task("big", variants=variants)])
    run = _run_row([{"name": "big", "path": str(tmp_path / "task.yaml")}])
    return results, collect_examples(run, records)


def test_five_thousand_examples_stay_under_ten_megabytes(tmp_path):
    results, examples = _big_run(tmp_path, 5000, 300)
    page = render_html(results, make_plots(results), examples)
    size = len(page.encode("utf-8"))
    assert size < MAX_BYTES
    assert page.count('<td class="id">') == 5000  # all fit: no cap
    assert "Showing" not in page
    print(f"index.html for 5,000 examples x 3 variants: {size / 1e6:.2f} MB")


def test_huge_inputs_are_capped_with_a_note(tmp_path):
    results, examples = _big_run(tmp_path, 5000, 5000)
    page = render_html(results, make_plots(results), examples)
    assert len(page.encode("utf-8")) < MAX_BYTES
    shown = page.count('<td class="id">')
    assert 0 < shown < 5000
    assert f"Showing {shown} of 5000 test examples to keep this file small" in page
    assert "[+3800 chars]" in page  # inputs are clipped at 1,200 characters
    flagged = len(re.findall(r'<tr class="[^"]*f-inv', page))
    assert flagged == min(shown, sum(1 for i in range(5000) if i % 7 == 0 and (
        i % 3 == 0 or i % 4 == 0 or i % 5 == 0)))
