"""Generation families end to end with the fake backend: generate, parse, score, analyse.

The fake model answers with the last capitalised word of the prompt, which
is never a JSON record, rarely a long form and never a judge rating: every
kind of unparseable or wrong output must be a scored, counted failure.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.report.writer import write_report
from harness.runner import Runner
from harness.store import Store
from tests.unit.resultskit import results_json

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
name: families
seed: 3
tasks: [tasks/support_record.yaml, tasks/ops_acronyms.yaml, tasks/house_tone.yaml,
        tasks/support_routing.yaml]
variants: [baselines/zero_shot.yaml, baselines/few_shot.yaml, baselines/calibrated.yaml]
models: [fake:keyword]
limit: {dev: 3, test: 5}
analysis: {resamples: 200}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks")
    shutil.copytree(ROOT / "baselines", tmp_path / "baselines")
    tone = tmp_path / "tasks" / "house_tone.yaml"
    tone.write_text(tone.read_text() + "judge: {model: 'fake:keyword', rubric: 'Is it warm?'}\n")
    (tmp_path / "run.yaml").write_text(CONFIG)
    return tmp_path / "run.yaml"


def test_generation_families_run_parse_score_and_analyse(project, tmp_path):
    cfg = load_config(project)
    store = Store(tmp_path / "store")
    try:
        result = Runner(cfg, store, BackendOptions()).run()
        # calibrated is classification-only: 3 tasks x 2 variants + 1 task x 3, 8 examples
        assert (result.records, result.errors) == (72, 0)
        recs = list(store.records(result.run_id))
        res = results_json(store.get_run(result.run_id), recs)
        report = write_report(store, result.run_id, tmp_path / "reports")
    finally:
        store.close()
    fmt = next(r for r in recs if r.task == "support_record")
    assert fmt.output["prediction"] is None and fmt.output["text"]  # raw kept, parse failed
    assert fmt.output["detail"]["parse"] == "failed"
    assert fmt.scores["field_f1"]["value"] == 0.0
    assert "unparseable output" in fmt.scores["field_f1"]["explanation"]
    tone = next(r for r in recs if r.task == "house_tone")
    judge = tone.output["detail"]["judge"]
    assert judge["invalid"] and judge["prompt"].startswith("You are grading a rewrite.")
    assert tone.scores["judge_rubric"]["value"] is None
    by_task = {t["task"]: t for t in res["tasks"]}
    assert [v["name"] for v in by_task["support_record"]["variants"]] == ["zero_shot",
                                                                        "few_shot"]
    sr = by_task["support_record"]
    assert (sr["family"], sr["metric"], sr["scorer"], sr["score_kind"]) == (
        "format", "field_f1", "field_f1", "continuous")
    zs = sr["variants"][0]
    assert zs["unparseable"] == 5 and zs["parse"] == {"strict": 0, "extracted": 0, "failed": 5}
    assert zs["scorers"]["schema_valid"]["mean"] == 0.0
    assert sr["comparisons"][0]["test"] == "paired_permutation"
    acr = by_task["ops_acronyms"]
    assert (acr["scorer"], acr["score_kind"]) == ("expansion_accuracy", "binary")
    assert acr["comparisons"][0]["test"] == "mcnemar_exact"
    ht = by_task["house_tone"]["variants"][0]
    assert ht["judge"]["asked"] == 5 and ht["judge"]["invalid"] == 5
    assert ht["scorers"]["judge_rubric"]["unscored"] == 5
    assert 0.0 <= ht["style_classifier"]["heldout_accuracy"] <= 1.0
    assert "character-trigram" in ht["fluency_proxy"]
    md = (report / "report.md").read_text()
    assert "## support_record (format, metric: field_f1)" in md
    assert "Every scorer (test mean, interval):" in md
    assert "zero_shot: parsed as is 0, extracted from text 0, unparseable 5" in md
    assert "style classifier (tfidf+logreg) held-out accuracy" in md
    assert "judge asked 5, invalid answers 5" in md
    assert "Per-label precision / recall (test):" in md and "| ORCA |" in md
    html = (report / "index.html").read_text()
    assert "Every scorer (test mean, interval)" in html and "unparseable output" in html


def test_estimate_budgets_generation_by_the_task(project, tmp_path):
    from harness.estimate import estimate

    store = Store(tmp_path / "store")
    try:
        rows = {(r.task, r.variant): r for r in estimate(load_config(project), store)}
    finally:
        store.close()
    assert ("support_record", "calibrated") not in rows  # classification-only variant
    rec = rows[("support_record", "zero_shot")]
    assert (rec.requests, rec.max_completion_tokens) == (8, 8 * 160)
    assert rows[("ops_acronyms", "few_shot")].max_completion_tokens == 8 * 16
    assert rows[("support_routing", "calibrated")].requests == 8 + 3  # + content-free inputs
