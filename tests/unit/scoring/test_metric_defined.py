"""Issue 14 case 4: a metric undefined on the data is a usage error, not "too little data".

``validate`` and every command that loads a run (``run``, ``gate``, ...) refuse,
before any model call, a task whose metric no test example can define,
saying why, with exit 2; the same check covers the other metrics that can be
undefined on every example. When only the outputs make a metric undefined
(every judge answer invalid), the run gives no verdict and says why. No NaN
is printed and no numpy warning escapes.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

import harness.scoring.metrics as metrics_module
from harness.analysis.results import build_results
from harness.cli import main
from harness.errors import UsageError
from harness.gating import _check
from harness.registry import Registry
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.plots import make_plots
from harness.report.sidebyside import collect_examples
from harness.scoring import Output, score_all
from harness.scoring.metrics import check_metric
from harness.store import Record, RunRow, Store
from harness.tasks import load_task
from tests.unit.resultskit import contract

NAN = re.compile(r"\bnan\b", re.IGNORECASE)

TERMS_TASK = """\
name: terms
family: terminology
mode: terms
data:
  columns: {id: id, input: text, target: gold}
  files: {train: train.jsonl, dev: dev.jsonl, test: test.jsonl}
glossary:
  - {term: consignee, forbidden: [receiver]}
  - {term: exception report, forbidden: [report]}
metric: required_term_recall
"""
METRIC_LINE = 10  # the 'metric:' line above

# No reference names 'consignee' or 'exception report': required-term recall (the share
# of the glossary terms the reference uses that the output also uses) is 0/0 on each.
PLAIN = ["Hello there.", "Thanks for the parcel.", "See you soon."]


def _rows(path: Path, golds: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": f"{path.stem}{i}", "text": f"input {i}",
                                        "gold": g}) + "\n" for i, g in enumerate(golds)))


def _project(tmp_path: Path, test: list[str], dev: list[str] | None = None,
             task: str = TERMS_TASK) -> Path:
    _rows(tmp_path / "train.jsonl", ["Tell the consignee."])
    _rows(tmp_path / "dev.jsonl", dev if dev is not None else ["Ask the consignee."])
    _rows(tmp_path / "test.jsonl", test)
    (tmp_path / "task.yaml").write_text(task)
    (tmp_path / "echo.j2").write_text("Rewrite: {{ input }}\nAnswer:")
    (tmp_path / "echo.yaml").write_text("name: echo\ntemplate: echo.j2\n")
    (tmp_path / "run.yaml").write_text(
        "name: termrun\ntasks: [task.yaml]\nvariants: [echo.yaml]\nmodels: ['fake:keyword']\n")
    return tmp_path


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert not NAN.search(out + err) and "RuntimeWarning" not in err
    assert err.count("\n") == 1, err
    return err.strip()


@pytest.mark.parametrize("argv", [["validate", "task.yaml"], ["run", "run.yaml"],
                                  ["gate", "run.yaml"], ["estimate", "run.yaml"]])
def test_terms_task_without_any_required_term_is_refused_before_any_call(
        tmp_path, monkeypatch, capsys, argv) -> None:
    monkeypatch.chdir(_project(tmp_path, PLAIN))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code = main([*argv, "--store", str(tmp_path / "st")] if argv[0] != "validate"
                    else argv)
    assert code == 2
    line = _one_line(capsys)
    assert (f"task.yaml:{METRIC_LINE}: metric required_term_recall is undefined on every "
            "test example (3): the reference uses no glossary term") in line, line
    assert not (tmp_path / "st" / "store.sqlite").exists() or Store(tmp_path / "st").runs() == []


def test_undefined_on_every_dev_example_is_refused_too(tmp_path) -> None:
    task = load_task(_project(tmp_path, ["Tell the consignee."], dev=PLAIN) / "task.yaml")
    with pytest.raises(UsageError, match="undefined on every dev example") as exc:
        check_metric(task)
    assert exc.value.line == METRIC_LINE


def test_one_defined_test_example_is_enough(tmp_path) -> None:
    task = load_task(_project(tmp_path, [*PLAIN, "Tell the consignee."]) / "task.yaml")
    check_metric(task)  # no error: one example defines it, the others are left out


@pytest.mark.parametrize(("task", "says"), [
    # schema_valid is scored only against a schema: without one, no example is scored.
    (TERMS_TASK.replace("family: terminology\nmode: terms", "family: format")
     .replace("glossary:\n  - {term: consignee, forbidden: [receiver]}\n"
              "  - {term: exception report, forbidden: [report]}\n", "")
     .replace("required_term_recall", "schema_valid"),
     "metric schema_valid needs format: json with a 'schema'"),
    # required-term recall needs glossary terms: an expansion task without a glossary.
    (TERMS_TASK.replace("mode: terms", "mode: expansion")
     .replace("glossary:\n  - {term: consignee, forbidden: [receiver]}\n"
              "  - {term: exception report, forbidden: [report]}\n", ""),
     "metric required_term_recall needs a non-empty 'glossary'"),
])
def test_a_metric_whose_scorer_does_not_apply_is_refused(tmp_path, task, says) -> None:
    golds = ['{"a": 1}'] * 2 if "format" in task else ["Tell the consignee."] * 2
    proj = _project(tmp_path, golds, dev=golds, task=task)
    _rows(proj / "train.jsonl", golds)
    with pytest.raises(UsageError, match=re.escape(says)) as exc:
        check_metric(load_task(proj / "task.yaml"))
    assert exc.value.line == task.splitlines().index(
        next(x for x in task.splitlines() if x.startswith("metric:"))) + 1


def test_recall_at_k_without_any_gold_passage_is_refused(tmp_path) -> None:
    (tmp_path / "kb.jsonl").write_text('{"id": "p1", "text": "Consignee means receiver."}\n')
    task = TERMS_TASK + "knowledge: {collection: kb.jsonl, gold_column: gold_ids}\n"
    proj = _project(tmp_path, ["Tell the consignee."], task=task)
    # The column is there (load checks that) but empty on the test row: recall@k, the
    # share of an example's gold passages retrieved, is 0/0.
    (proj / "test.jsonl").write_text('{"id": "t0", "text": "x", "gold": "Tell the '
                                     'consignee.", "gold_ids": ""}\n')
    (proj / "dev.jsonl").write_text('{"id": "d0", "text": "y", "gold": "Ask the consignee.",'
                                    ' "gold_ids": "p1"}\n')
    with pytest.raises(UsageError, match="recall@k and MRR are undefined on every test "
                       r"example \(1\): no test row names a gold passage") as exc:
        check_metric(load_task(proj / "task.yaml"))
    assert exc.value.line == METRIC_LINE + 1


def test_field_f1_is_defined_on_an_empty_gold_object(tmp_path) -> None:
    # The empty object is a field of its own ("$" = {}): a gold {} has one field, so
    # field F1 is defined. Output {} matches it: P = R = F1 = 1/1 = 1.0. Output {"a": 1}
    # has one field, not the gold's: P = 0/1, R = 0/1, F1 = 0.0.
    task_text = ("name: fmt\nfamily: format\ndata:\n  columns: {id: id, input: text, "
                 "target: gold}\n  files: {test: test.jsonl}\n")
    (tmp_path / "task.yaml").write_text(task_text)
    _rows(tmp_path / "test.jsonl", ["{}"])
    task = load_task(tmp_path / "task.yaml")
    check_metric(task)
    ex = task.split("test")[0]
    assert score_all(task, ex, Output("{}", "{}"))["field_f1"]["value"] == 1.0
    assert score_all(task, ex, Output('{"a": 1}', '{"a": 1}'))["field_f1"]["value"] == 0.0


def test_a_metric_without_paired_resampling_is_refused_at_load(tmp_path, monkeypatch) -> None:
    # If macro_f1 had no per-example decomposition, it could not be compared by
    # resampling examples: refused at the task's metric line, not averaged as accuracy.
    (tmp_path / "task.yaml").write_text(
        "name: cls\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        "target: gold}\n  files: {test: test.jsonl}\nlabels: [A, B]\nmetric: macro_f1\n")
    _rows(tmp_path / "test.jsonl", ["A", "B"])
    monkeypatch.setattr(metrics_module, "CORPUS_METRICS", Registry("corpus metric"))
    with pytest.raises(UsageError, match="metric macro_f1 cannot be compared example by "
                       "example") as exc:
        check_metric(load_task(tmp_path / "task.yaml"))
    assert exc.value.line == 7


def _judge_records() -> list[Record]:
    bad = {"judge_rubric": {"value": None, "explanation": "invalid judge answer 'maybe' "
                            "(counted, not scored)", "detail": {"invalid": True}}}
    return [Record("r", "tone", "d", v, "m", split, f"{split}{i}", 0, "Dear customer.",
                   {"text": "hi", "prediction": "hi",
                    "detail": {"judge": {"invalid": True, "raw": "maybe"}}}, bad,
                   5, 2, 0.1, False, None)
            for v in ("p", "ft") for split in ("dev", "test") for i in range(12)]


def test_every_judge_answer_invalid_gives_no_verdict_and_no_nan() -> None:
    config = {"spec": {"seed": 0, "analysis": {"resamples": 200, "confidence": 0.95}},
              "tasks": [{"name": "tone", "family": "tone", "metric": "judge_rubric",
                         "primary": "judge_rubric"}],
              "variants": [{"name": "p", "kind": "prompt"}, {"name": "ft", "kind": "lora"}],
              "models": ["m"]}
    run = RunRow("r", "2026-01-01", None, "done", "cfg.yaml", "x", config, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        typed = build_results(run, _judge_records())
        results = contract(typed)
        (task,) = results["tasks"]
        page = render_html(typed, make_plots(typed, []),
                           collect_examples(run, _judge_records()))
        text = render_markdown(typed)
    # Not "INCONCLUSIVE: need ~10 more examples": more such examples would not help.
    assert task["verdict"] is None and results["verdict"] is None
    assert task["decision_note"] == (
        "metric judge_rubric is undefined on every test example of p (invalid judge answer "
        "'maybe' (counted, not scored)): nothing to decide")
    assert task["baseline_reason"].startswith("no dev scores")
    assert not NAN.search(text) and not NAN.search(page)
    with pytest.raises(UsageError, match="task tone: metric judge_rubric is undefined"):
        _check(typed, 10)
