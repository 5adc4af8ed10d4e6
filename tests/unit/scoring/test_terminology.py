"""Terminology scorers: exact expansion, required-term recall, forbidden-term rate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.scoring import Output, score_all
from harness.scoring.parse import parse_output
from harness.tasks import Task, load_task

GLOSSARY = """\
glossary:
  - {acronym: SLA, expansion: Shipment Loss Assessment, forbidden: [Service Level Agreement]}
  - {term: consignee, forbidden: [receiver, recipient]}
  - {term: exception report, forbidden: [report]}
"""


def _task(tmp_path: Path, rows: list[dict[str, str]], extra: str) -> Task:
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "task.yaml").write_text(
        "name: terms\nfamily: terminology\ndata:\n  columns: {id: id, input: text, target: gold}\n"
        "  files: {test: rows.jsonl}\n" + extra)
    return load_task(tmp_path / "task.yaml")


def _values(task: Task, text: str, i: int = 0) -> dict[str, Any]:
    parsed = parse_output(task.spec, dict(task.resources), text)
    scores = score_all(task, task.split("test")[i], Output(text, parsed.prediction,
                                                          parsed.detail))
    return {k: v["value"] for k, v in scores.items()}


def test_expansion_is_exact_after_configured_normalisation(tmp_path):
    rows = [{"id": "a", "text": "Raise an SLA. Expand SLA.", "gold": "Shipment Loss Assessment"}]
    task = _task(tmp_path, rows, GLOSSARY + "normalize: {punctuation: true}\n")
    assert task.primary_scorer == "expansion_accuracy"
    assert _values(task, "  shipment   loss assessment.\nextra") == {
        "expansion_accuracy": 1.0, "required_term_recall": 1.0, "forbidden_term_rate": 0.0}
    assert _values(task, "Service Level Agreement") == {
        "expansion_accuracy": 0.0, "required_term_recall": 0.0, "forbidden_term_rate": 1.0}
    assert _values(task, "")["expansion_accuracy"] == 0.0
    strict_dir = tmp_path / "strict"
    strict_dir.mkdir()
    strict = _task(strict_dir, rows, GLOSSARY + "normalize: {case: false}\n")
    assert _values(strict, "shipment loss assessment")["expansion_accuracy"] == 0.0


def test_terms_mode_recall_and_forbidden_variants(tmp_path):
    rows = [{"id": "a", "text": "Tell the receiver.", "gold": "Tell the consignee about the "
             "exception report."},
            {"id": "b", "text": "Hello.", "gold": "Hello there."}]
    task = _task(tmp_path, rows, GLOSSARY + "mode: terms\n")
    assert task.primary_scorer == "required_term_recall"
    assert "expansion_accuracy" not in _values(task, "x")
    good = _values(task, "Tell the Consignee about the exception report.")
    assert good == {"required_term_recall": 1.0, "forbidden_term_rate": 0.0}
    half = _values(task, "Tell the receiver about the exception report.")
    assert half == {"required_term_recall": 0.5, "forbidden_term_rate": 1.0}
    # 'report' alone is forbidden, but not inside the preferred 'exception report'
    assert _values(task, "Send the report.")["forbidden_term_rate"] == 1.0
    # a reference that needs no glossary term leaves recall unscored, not zero
    assert _values(task, "Hello there.", i=1)["required_term_recall"] is None


ZH_GLOSSARY = """\
glossary:
  - {term: 收货人, forbidden: [接收者]}
"""


def test_chinese_terms_are_found_inside_their_sentence(tmp_path):
    # Issue 18 case 5 (same kind): Chinese has no spaces, so a \w word boundary
    # never held around 收货人 (consignee) inside 请通知收货人, and the reference
    # "needed no glossary term" (unscored) while the output used the forbidden 接收者.
    rows = [{"id": "a", "text": "Notify them.", "gold": "请通知收货人。"}]
    task = _task(tmp_path, rows, ZH_GLOSSARY + "mode: terms\n")
    assert _values(task, "请通知收货人。") == {"required_term_recall": 1.0,
                                          "forbidden_term_rate": 0.0}
    assert _values(task, "请通知接收者。") == {"required_term_recall": 0.0,
                                          "forbidden_term_rate": 1.0}
