"""Issue 14 case 6: every ``$ref`` of a format task's schema is resolved when it loads.

Today a ``$ref`` to a missing ``$defs`` entry was a traceback in validate
(required property) or a crash at the first output using it (optional
property), and a ``$ref`` to a sibling file was a traceback. Right: resolved
at load from the schema's folder, or one located line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import UsageError
from harness.schemas import refs_in
from harness.scoring.base import Output
from harness.scoring.format import schema_valid
from harness.tasks import load_task

TASK = """\
name: rec
family: format
data:
  columns: {id: id, input: text, target: record}
  files: {test: d.jsonl}
schema: schema.json
"""


def _task(tmp_path: Path, schema: dict[str, object], record: dict[str, object] | None = None,
          **files: dict[str, object]) -> Path:
    record = record if record is not None else {"queue": "BILL"}
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"id": "a", "text": "x", "record": record}) + "\n", encoding="utf-8")
    # One key per line, so the line of each "$ref" is known.
    (tmp_path / "schema.json").write_text(json.dumps(schema, indent=1), encoding="utf-8")
    for name, contents in files.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(contents), encoding="utf-8")
    (tmp_path / "t.yaml").write_text(TASK, encoding="utf-8")
    return tmp_path / "t.yaml"


def _schema(required: list[str]) -> dict[str, object]:
    return {"type": "object", "required": required,
            "properties": {"queue": {"type": "string"}, "addr": {"$ref": "#/$defs/Missing"}},
            "$defs": {"Street": {"type": "string"}}}


@pytest.mark.parametrize("required", [["queue", "addr"], ["queue"]])
def test_ref_to_a_missing_def_is_refused_at_validate(tmp_path: Path, required: list[str],
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    # json.dumps(indent=1) puts "$ref" on line 12 whether or not addr is required:
    # {, "type", "required": [, the 1 or 2 names, ], "properties": {, "queue": {,
    # "type", }, "addr": {, "$ref".
    task = _task(tmp_path, _schema(required), {"queue": "BILL", "addr": "x"})
    line = (tmp_path / "schema.json").read_text().splitlines().index(
        '   "$ref": "#/$defs/Missing"') + 1
    assert line == 11 + len(required) - 1
    assert main(["validate", str(task)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'schema.json'}:{line}: $ref '#/$defs/Missing' cannot "
                          "be resolved")
    assert err.count("\n") == 1


def test_ref_to_a_sibling_file_resolves_and_validates(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"queue": {"type": "string"},
                                               "addr": {"$ref": "address.json"}}}
    address = {"type": "object", "properties": {"street": {"$ref": "#/$defs/Street"}},
               "$defs": {"Street": {"type": "string"}}}
    task = load_task(_task(tmp_path, schema, {"queue": "BILL", "addr": {"street": "Main"}},
                           address=address))
    example = task.split("test")[0]
    good = json.dumps({"queue": "BILL", "addr": {"street": "Main"}})
    bad = json.dumps({"queue": "BILL", "addr": {"street": 3}})
    assert schema_valid(example, Output(good, good), task).value == 1.0
    score = schema_valid(example, Output(bad, bad), task)
    # The sibling's own $defs entry applies: 3 is not a string, at addr/street.
    assert (score.value, score.explanation) == (
        0.0, "1 schema error(s); first at /addr/street: 3 is not of type 'string'")
    # The sibling is part of the task: editing it changes the task's digest.
    (tmp_path / "address.json").write_text(json.dumps({**address, "title": "Address"}))
    assert load_task(tmp_path / "t.yaml").digest != task.digest


def test_ref_to_a_missing_sibling_file(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"addr": {"$ref": "address.json"}}}
    with pytest.raises(UsageError) as err:
        load_task(_task(tmp_path, schema))
    assert err.value.path == str(tmp_path / "schema.json")
    assert err.value.message == (f"$ref 'address.json' cannot be resolved (no schema file "
                                 f"{tmp_path / 'address.json'})")


def test_unresolvable_ref_inside_a_sibling_names_the_sibling(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"addr": {"$ref": "address.json"}}}
    address = {"type": "object", "properties": {"street": {"$ref": "#/$defs/Nope"}}}
    with pytest.raises(UsageError) as err:
        load_task(_task(tmp_path, schema, address=address))
    assert (err.value.path, err.value.line) == (str(tmp_path / "address.json"), 1)
    assert err.value.message == "$ref '#/$defs/Nope' cannot be resolved"


def test_ref_by_id_resolves_to_the_sibling_that_declares_it(tmp_path: Path) -> None:
    schema = {"$id": "https://example.com/order.json", "type": "object",
              "properties": {"addr": {"$ref": "address.json"}}}
    address = {"$id": "https://example.com/address.json", "type": "string"}
    task = load_task(_task(tmp_path, schema, address=address))
    example = task.split("test")[0]
    assert schema_valid(example, Output('{"addr": 1}', '{"addr": 1}'), task).value == 0.0
    assert schema_valid(example, Output('{"addr": "x"}', '{"addr": "x"}'), task).value == 1.0


def test_remote_ref_is_refused_not_fetched(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"addr": {"$ref": "https://example.com/a.json"}}}
    with pytest.raises(UsageError, match="tunegate does not fetch schemas"):
        load_task(_task(tmp_path, schema))


def test_inline_schema_ref_is_located_in_the_task_file(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "x", "record": {"q": "A"}}\n')
    (tmp_path / "t.yaml").write_text(TASK.replace(
        "schema: schema.json\n", "schema:\n  type: object\n  properties:\n"
        "    q: {$ref: '#/$defs/Q'}\n"))
    with pytest.raises(UsageError) as err:
        load_task(tmp_path / "t.yaml")
    assert (err.value.path, err.value.line) == (str(tmp_path / "t.yaml"), 6)
    assert err.value.message == "$ref '#/$defs/Q' cannot be resolved"


def test_refs_are_found_where_they_are_keywords_only() -> None:
    schema = {"properties": {"$ref": {"type": "string"}, "a": {"$ref": "#/$defs/A"}},
              "$defs": {"A": {"items": [{"$ref": "other.json"}]}},
              "const": {"$ref": "not a reference"},
              "allOf": [{"$id": "sub/", "$ref": "x.json"}]}
    assert refs_in(schema, "file:///s/schema.json") == [
        ("file:///s/schema.json", "#/$defs/A"), ("file:///s/schema.json", "other.json"),
        ("file:///s/sub/", "x.json")]
