"""Format scorers: strict/lenient parse, JSON Schema validity, field P/R/F1, exact match, regex."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.scoring import Output, score_all
from harness.scoring.parse import parse_json, parse_output
from harness.tasks import Task, load_task

SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
          "properties": {"order": {"type": "string"},
                         "items": {"type": "array", "items": {"type": "string"}},
                         "who": {"type": "object", "properties": {"name": {"type": "string"}}}},
          "required": ["order"], "additionalProperties": False}
GOLD = {"order": "A1", "items": ["mug", "mug", "lamp"], "who": {"name": "Ann"}, "total": 2.5}


def _task(tmp_path: Path, extra: str = "", schema: Any = None,
          gold: dict[str, Any] | None = None) -> Task:
    rows = [{"id": f"e{i}", "text": f"order {i}", "record": gold or GOLD} for i in range(3)]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = ("name: fmt\nfamily: format\ndata:\n  columns: {id: id, input: text, target: record}\n"
            "  files: {test: rows.jsonl}\n" + extra)
    if schema is not None:
        (tmp_path / "schema.json").write_text(json.dumps(schema))
        text += "schema: schema.json\n"
    (tmp_path / "task.yaml").write_text(text)
    return load_task(tmp_path / "task.yaml")


def _scores(task: Task, text: str) -> dict[str, dict[str, Any]]:
    parsed = parse_output(task.spec, dict(task.resources), text)
    return score_all(task, task.split("test")[0], Output(text, parsed.prediction, parsed.detail))


def _values(scores: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    return {k: v["value"] for k, v in scores.items()}


def test_gold_object_scores_exactly_one_everywhere(tmp_path):
    schema = dict(SCHEMA, properties=dict(SCHEMA["properties"], total={"type": "number"}))
    task = _task(tmp_path, schema=schema)
    values = _values(_scores(task, json.dumps(GOLD)))
    assert values == {"exact_match": 1.0, "field_f1": 1.0, "field_precision": 1.0,
                      "field_recall": 1.0, "parse_lenient": 1.0, "parse_strict": 1.0,
                      "schema_valid": 1.0}


def test_lenient_parse_says_it_extracted(tmp_path):
    task = _task(tmp_path)
    scores = _scores(task, 'Sure! Here it is: {"order": "A1"} hope that helps')
    assert scores["parse_strict"]["value"] == 0.0
    assert scores["parse_lenient"]["value"] == 1.0
    assert "extracted the first JSON object at char 18" in scores["parse_lenient"]["explanation"]
    assert scores["parse_lenient"]["detail"] == {"extracted": True, "offset": 18}


def test_field_prf_flattens_nested_keys_and_counts_lists_as_multisets(tmp_path):
    task = _task(tmp_path)
    # One "mug" of two, the lamp, nested name right; order wrong; one extra field.
    pred = {"order": "B2", "items": ["lamp", "mug"], "who": {"name": "Ann"}, "total": 2.5,
            "note": "x"}
    scores = _scores(task, json.dumps(pred))
    # gold fields: order, items[] x3, who.name, total = 6; pred fields: 6; matched 4.
    assert scores["field_precision"]["value"] == pytest.approx(4 / 6)
    assert scores["field_recall"]["value"] == pytest.approx(4 / 6)
    assert scores["field_f1"]["value"] == pytest.approx(4 / 6)
    assert "items[]=mug" in scores["field_recall"]["detail"]["missing"]
    assert scores["exact_match"]["value"] == 0.0
    # list order never matters
    reordered = dict(GOLD, items=["lamp", "mug", "mug"])
    assert _scores(task, json.dumps(reordered))["exact_match"]["value"] == 1.0


def test_normalisation_is_configurable(tmp_path):
    loose = _task(tmp_path)
    pred = dict(GOLD, who={"name": "  ann "}, total="2.50")
    assert _scores(loose, json.dumps(pred))["exact_match"]["value"] == 1.0
    strict_dir = tmp_path / "strict"
    strict_dir.mkdir()
    strict = _task(strict_dir, "normalize: {case: false, whitespace: false, numbers: false}\n")
    values = _values(_scores(strict, json.dumps(pred)))
    assert values["exact_match"] == 0.0
    assert values["field_recall"] == pytest.approx(4 / 6)


def test_schema_errors_are_explained(tmp_path):
    task = _task(tmp_path, schema=SCHEMA, gold={"order": "A1", "items": ["mug"]})
    scores = _scores(task, json.dumps({"order": 7, "items": ["mug"], "extra": True}))
    assert scores["schema_valid"]["value"] == 0.0
    assert scores["schema_valid"]["detail"]["errors"] == 2
    assert "schema error" in scores["schema_valid"]["explanation"]


def test_unparseable_output_is_a_scored_failure(tmp_path):
    task = _task(tmp_path, schema=SCHEMA, gold={"order": "A1"})
    values = _values(_scores(task, "I cannot help with that {"))
    assert set(values.values()) == {0.0}
    assert parse_json("[1, 2]").prediction is None  # an array is not an object


def test_schema_scorer_only_runs_with_a_schema(tmp_path):
    assert "schema_valid" not in _scores(_task(tmp_path), "{}")


def test_regex_format_scores_named_groups(tmp_path):
    rows = [{"id": "r1", "text": "ship it", "line": "ORDER A12 QTY 3 TO Leeds"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "task.yaml").write_text(
        "name: line\nfamily: format\nformat: regex\n"
        "regex: 'ORDER (?P<order>[A-Z][0-9]+) QTY (?P<qty>[0-9]+) TO (?P<city>\\w+)'\n"
        "data:\n  columns: {id: id, input: text, target: line}\n  files: {test: rows.jsonl}\n"
        "metric: exact_match\n")
    task = load_task(tmp_path / "task.yaml")
    assert task.primary_scorer == "exact_match"
    ok = _values(_scores(task, "ORDER A12 QTY 3 TO leeds\nmore text"))
    assert ok == {"exact_match": 1.0, "field_f1": 1.0, "field_precision": 1.0,
                  "field_recall": 1.0, "regex_match": 1.0}
    wrong = _values(_scores(task, "ORDER A12 QTY 4 TO Leeds"))
    assert wrong["regex_match"] == 1.0 and wrong["field_f1"] == pytest.approx(2 / 3)
    bad = _values(_scores(task, "order: A12, three of them"))
    assert set(bad.values()) == {0.0}
