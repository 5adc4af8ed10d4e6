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
    assert "extracted the one JSON object at char 18" in scores["parse_lenient"]["explanation"]
    assert scores["parse_lenient"]["detail"] == {"extracted": True, "offset": 18}


def test_field_prf_over_nested_keys_and_order_free_lists(tmp_path):
    task = _task(tmp_path)
    # One "mug" of two, the lamp, nested name right; order wrong; one extra field.
    pred = {"order": "B2", "items": ["lamp", "mug"], "who": {"name": "Ann"}, "total": 2.5,
            "note": "x"}
    scores = _scores(task, json.dumps(pred))
    # gold fields: /order, /items/0..2, /who/name, /total = 6; pred fields: /order,
    # /items/0..1, /who/name, /total, /note = 6; matched: 2 items, name, total = 4.
    assert scores["field_precision"]["value"] == pytest.approx(4 / 6)
    assert scores["field_recall"]["value"] == pytest.approx(4 / 6)
    assert scores["field_f1"]["value"] == pytest.approx(4 / 6)
    # The unpaired gold item is the first "mug" (the second pairs with the output's).
    assert '/items/0="mug"' in scores["field_recall"]["detail"]["missing"]
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


# Issue 14 case 1: a structured-output scorer must not credit a different object.
ORDER = {"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}


def test_swapped_values_inside_list_items_are_not_the_gold(tmp_path):
    task = _task(tmp_path, gold=ORDER)
    swapped = {"queue": "BILL", "items": [{"sku": "A", "qty": 5}, {"sku": "B", "qty": 1}]}
    values = _values(_scores(task, json.dumps(swapped)))
    # 5 gold and 5 output fields; items aligned whole: A-with-A keeps sku (qty 5 vs 1
    # wrong), B-with-B keeps sku; plus /queue: 3 right. P = R = F1 = 3/5 = 0.6.
    # (The old flattener pooled items[].qty = {1, 5} and gave 1.0 everywhere.)
    assert values["exact_match"] == 0.0
    assert values["field_precision"] == pytest.approx(0.6)
    assert values["field_recall"] == pytest.approx(0.6)
    assert values["field_f1"] == pytest.approx(0.6)
    # Whole items in the other order are the gold.
    reordered = {"queue": "BILL", "items": ORDER["items"][::-1]}
    assert _values(_scores(task, json.dumps(reordered)))["exact_match"] == 1.0


def test_a_dotted_gold_key_is_not_a_nested_output_key(tmp_path):
    task = _task(tmp_path, gold={"ref.id": "7"})
    values = _values(_scores(task, json.dumps({"ref": {"id": "7"}})))
    # Gold field /ref.id, output field /ref/id: nothing in common, 0 on every field
    # scorer (it is still one JSON object: the parse scores are 1).
    assert {k: values[k] for k in ("exact_match", "field_precision", "field_recall",
                                   "field_f1")} == {"exact_match": 0.0, "field_precision": 0.0,
                                                    "field_recall": 0.0, "field_f1": 0.0}
    assert values["parse_strict"] == 1.0


@pytest.mark.parametrize(("gold", "text"), [
    # Cut off by max_tokens; the nested {"sku": "A", "qty": 1} is a fragment of it,
    # though it equals this gold (the old lenient parse took it: 1.0 everywhere).
    ({"sku": "A", "qty": 1}, '{"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B"'),
    # Two objects, the first one the gold (the old parse took the first).
    (ORDER, json.dumps(ORDER) + " or " + json.dumps({"queue": "SHIP", "items": []})),
])
def test_a_fragment_or_one_of_two_objects_is_not_the_answer(tmp_path, gold, text):
    task = _task(tmp_path, gold=gold)
    # Unparseable: a scored failure, 0 on every scorer.
    assert set(_values(_scores(task, text)).values()) == {0.0}
