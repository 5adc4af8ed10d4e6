"""Task loading: JSONL/CSV/TSV with column mappings, seeded split rules, checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.tasks import load_task

RULE_TASK = """\
name: ruled
family: classification
data:
  columns: {{id: uid, input: message, target: queue}}
  path: {path}
  split_rule: {{seed: {seed}, dev: 0.2, test: 0.3}}
labels: [A, B]
"""


def _rule_task(tmp_path: Path, n: int, seed: int = 3, start: int = 0) -> Path:
    rows = [{"uid": f"ex{i}", "message": f"text {i}", "queue": "AB"[i % 2]}
            for i in range(start, n)]
    (tmp_path / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = tmp_path / "ruled.yaml"
    task.write_text(RULE_TASK.format(path="all.jsonl", seed=seed))
    return task


def _assignment(task_path: Path) -> dict[str, str]:
    task = load_task(task_path)
    return {ex.id: split for split, rows in task.examples.items() for ex in rows}


def test_jsonl_with_column_mapping(project):
    task = load_task(project.task)
    assert task.name == "toy" and task.family == "classification"
    assert {k: len(v) for k, v in task.examples.items()} == {"train": 8, "dev": 4, "test": 6}
    ex = task.split("test")[4]
    assert (ex.id, ex.input, ex.target, ex.split) == (
        "te4", "te message 4 is about BETA", "ALPHA", "test")
    assert ex.fields == {"id": "te4", "text": "te message 4 is about BETA", "label": "ALPHA"}
    assert ex.line == 5
    assert ex.source == str((project.data / "test.jsonl").resolve())
    assert task.spec.labels == {"ALPHA": "the first kind", "BETA": "the second kind"}
    assert task.split("nope") == ()


def test_csv_with_column_mapping_and_line_numbers(tmp_path):
    (tmp_path / "rows.csv").write_text(
        'uid,message,queue,extra\n'
        'a1,hello there,A,x\n'
        'a2,"two\nlines",B,y\n'
        'a3,"comma, inside",A,z\n')
    (tmp_path / "other.csv").write_text("uid,message,queue,extra\nb1,hi,B,w\n")
    (tmp_path / "t.yaml").write_text(
        "name: csvtask\nfamily: classification\n"
        "data:\n  columns: {id: uid, input: message, target: queue}\n"
        "  files: {train: other.csv, test: rows.csv}\nlabels: [A, B]\n")
    task = load_task(tmp_path / "t.yaml")
    rows = task.split("test")
    assert [(e.id, e.input, e.target, e.line) for e in rows] == [
        ("a1", "hello there", "A", 2), ("a2", "two\nlines", "B", 3),
        ("a3", "comma, inside", "A", 5)]
    assert rows[0].fields["extra"] == "x"
    assert [e.id for e in task.split("train")] == ["b1"]
    assert task.split("dev") == ()


def test_tsv_and_ids_from_line_numbers(tmp_path):
    (tmp_path / "test.tsv").write_text("input\ttarget\nfirst\tA\nsecond\tB\n")
    (tmp_path / "t.yaml").write_text(
        "name: tsv\nfamily: classification\ndata:\n  files: {test: test.tsv}\n"
        "labels: [A, B]\n")
    task = load_task(tmp_path / "t.yaml")
    # No id column: each id is the file (relative to the task) and the row's line.
    assert [(e.id, e.input, e.target) for e in task.split("test")] == [
        ("test.tsv:2", "first", "A"), ("test.tsv:3", "second", "B")]
    assert task.generated_ids


def test_numeric_labels_match_as_strings(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"input": "x", "target": 1}\n{"input": "y", "target": 0}\n')
    (tmp_path / "t.yaml").write_text(
        "name: num\nfamily: classification\ndata:\n  files: {test: d.jsonl}\nlabels: [0, 1]\n")
    task = load_task(tmp_path / "t.yaml")
    assert list(task.spec.labels) == ["0", "1"]
    assert [e.target for e in task.split("test")] == ["1", "0"]


def test_invalid_jsonl_line_is_located(project):
    with (project.data / "dev.jsonl").open("a") as fh:
        fh.write("{not json\n")
    with pytest.raises(UsageError) as err:
        load_task(project.task)
    assert err.value.path == str((project.data / "dev.jsonl").resolve())
    assert err.value.line == 5
    assert err.value.message.startswith("invalid JSON")


def test_jsonl_line_must_be_object(project):
    (project.data / "dev.jsonl").write_text('["a", "b"]\n')
    with pytest.raises(UsageError, match="each JSONL line must be an object") as err:
        load_task(project.task)
    assert err.value.line == 1


def test_unsupported_format(project, edit):
    (project.data / "dev.txt").write_text("x\n")
    edit(project.task, "dev: data/dev.jsonl", "dev: data/dev.txt")
    with pytest.raises(UsageError, match="unsupported data format '.txt'") as err:
        load_task(project.task)
    assert err.value.hint == "use .jsonl, .json, .csv or .tsv"


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  files:\n", "  path: data/train.jsonl\n  files:\n", "either 'files'"),
    ("    test: data/test.jsonl\n", "", "'files' must include a 'test' split"),
    ("  files:\n    train: data/train.jsonl\n    dev: data/dev.jsonl\n"
     "    test: data/test.jsonl\n", "  path: data/train.jsonl\n", "'path' needs a 'split_rule'"),
    ("labels:\n  ALPHA: the first kind\n  BETA: the second kind\n", "labels: [ALPHA]\n",
     "at least 2 labels"),
    ("name: toy", "name: Toy-Task", "name: String should match pattern"),
])
def test_spec_rules(project, edit, old, new, message):
    edit(project.task, old, new)
    with pytest.raises(UsageError, match=message) as err:
        load_task(project.task)
    assert err.value.path == str(project.task)
    assert err.value.line is not None


def test_unknown_family_of_wrong_type_is_a_user_error(project, edit):
    edit(project.task, "family: classification", "family: {kind: classification}")
    with pytest.raises(UsageError, match="unknown family") as err:
        load_task(project.task)
    assert (err.value.line, err.value.hint) == (
        2, "one of: classification, format, tone, terminology")


def test_split_rule_is_deterministic(tmp_path):
    task = _rule_task(tmp_path, 400)
    first, second = _assignment(task), _assignment(task)
    assert first == second
    counts = {s: sum(1 for v in first.values() if v == s) for s in ("train", "dev", "test")}
    assert counts["train"] + counts["dev"] + counts["test"] == 400
    assert abs(counts["test"] / 400 - 0.3) < 0.07
    assert abs(counts["dev"] / 400 - 0.2) < 0.07


def test_split_rule_is_stable_when_examples_are_added_or_removed(tmp_path):
    before = _assignment(_rule_task(tmp_path, 200))
    after = _assignment(_rule_task(tmp_path, 260))
    assert set(after) - set(before) == {f"ex{i}" for i in range(200, 260)}
    assert {k: after[k] for k in before} == before
    fewer = _assignment(_rule_task(tmp_path, 260, start=50))
    assert {k: before[k] for k in fewer if k in before} == {
        k: v for k, v in fewer.items() if k in before}


def test_split_rule_depends_on_seed(tmp_path):
    a = _assignment(_rule_task(tmp_path, 200, seed=1))
    b = _assignment(_rule_task(tmp_path, 200, seed=2))
    assert a.keys() == b.keys()
    assert sum(a[k] != b[k] for k in a) > 50


def test_digest_tracks_task_and_data(project):
    d1 = load_task(project.task).digest
    assert len(d1) == 16 and d1 == load_task(project.task).digest
    project.split("dev", [("ALPHA", "ALPHA"), ("BETA", "ALPHA")], "dv")
    d2 = load_task(project.task).digest
    assert d2 != d1
    project.write("task.yaml", project.task.read_text() + "# a comment\n")
    assert load_task(project.task).digest not in (d1, d2)


def test_real_support_routing_task(root):
    task = load_task(root / "tasks" / "support_routing.yaml")
    assert {k: len(v) for k, v in task.examples.items()} == {"train": 240, "dev": 64,
                                                             "test": 80}
    assert list(task.spec.labels) == ["ORCA", "TIDE", "KELP", "REEF", "GULL", "DUNE", "PIKE",
                                      "MOSS"]
    ids = [ex.id for rows in task.examples.values() for ex in rows]
    assert len(ids) == len(set(ids)) == 384
    assert task.split("test")[0].id == "sr-00305"


def test_csv_line_numbers_after_a_blank_line_and_short_rows(tmp_path):
    (tmp_path / "rows.csv").write_text("id,text,label\n\nx1,hi,A\nx2,B\n")
    (tmp_path / "t.yaml").write_text(
        "name: csvtask\nfamily: classification\n"
        "data:\n  columns: {id: id, input: text, target: label}\n"
        "  files: {test: rows.csv}\nlabels: [A, B]\n")
    with pytest.raises(UsageError) as err:
        load_task(tmp_path / "t.yaml")
    expected = (f"{tmp_path / 'rows.csv'}:4: row has 2 fields, the header 3 (fewer fields "
                "than the header)")
    assert err.value.one_line() == expected
    (tmp_path / "rows.csv").write_text("id,text,label\n\nx1,hi,A\n")
    assert [e.line for e in load_task(tmp_path / "t.yaml").split("test")] == [3]
