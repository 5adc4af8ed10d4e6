"""Loading the generation families: data shapes, family checks, demo tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.tasks import load_task

ROOT = Path(__file__).resolve().parents[2]


def test_json_array_file_with_an_object_target_and_token_input(tmp_path):
    rows = [{"tokens": ["Hi", "there"], "intents": ["greet"], "slots": {"n": 1}},
            {"tokens": ["Bye"], "intents": ["end_call"]}]
    (tmp_path / "rows.json").write_text("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]")
    (tmp_path / "t.yaml").write_text(
        "name: arr\nfamily: format\ndata:\n  columns: {input: tokens, target: [intents, slots]}\n"
        "  files: {test: rows.json}\n")
    task = load_task(tmp_path / "t.yaml")
    first, second = task.split("test")
    assert (first.input, first.line, second.line) == ("Hi there", 2, 3)
    assert json.loads(first.target) == {"intents": ["greet"], "slots": {"n": 1}}
    assert json.loads(second.target) == {"intents": ["end_call"]}  # absent column left out


def test_json_lines_in_a_json_file(tmp_path):
    (tmp_path / "rows.json").write_text('{"x": "a", "y": "b"}\n{"x": "c", "y": "d"}\n')
    (tmp_path / "t.yaml").write_text(
        "name: jl\nfamily: terminology\ndata:\n  columns: {input: x, target: y}\n"
        "  files: {test: rows.json}\n")
    assert [e.target for e in load_task(tmp_path / "t.yaml").split("test")] == ["b", "d"]


def test_glossary_file_errors_point_into_the_glossary_file(tmp_path):
    (tmp_path / "rows.jsonl").write_text('{"x": "a", "y": "b"}\n')
    (tmp_path / "g.yaml").write_text("glossary:\n  - {acronym: A, expansion: Alpha}\n"
                                     "  - {acronym: A, expansion: Another}\n")
    (tmp_path / "t.yaml").write_text(
        "name: g\nfamily: terminology\nglossary: g.yaml\n"
        "data:\n  columns: {input: x, target: y}\n  files: {test: rows.jsonl}\n")
    with pytest.raises(UsageError, match="conflicting glossary entry for 'A'") as err:
        load_task(tmp_path / "t.yaml")
    assert (err.value.path, err.value.line) == (str(tmp_path / "g.yaml"), 3)


@pytest.mark.parametrize(("extra", "message"), [
    ("format: regex\n", "format: regex needs a 'regex'"),
    ("metric: regex_match\n", "metric regex_match needs format: regex"),
    ("regex: 'x'\n", "'regex' belongs to format: regex"),
])
def test_format_spec_rules(tmp_path, extra, message):
    (tmp_path / "rows.jsonl").write_text('{"x": "a", "y": "{}"}\n')
    (tmp_path / "t.yaml").write_text(
        "name: f\nfamily: format\ndata:\n  columns: {input: x, target: y}\n"
        "  files: {test: rows.jsonl}\n" + extra)
    with pytest.raises(UsageError, match=message):
        load_task(tmp_path / "t.yaml")


@pytest.mark.parametrize(("name", "family", "primary", "scorers"), [
    ("support_record", "format", "field_f1", 7),
    ("house_tone", "tone", "joint", 7),
    ("ops_acronyms", "terminology", "expansion_accuracy", 3),
])
def test_demo_tasks_are_sized_and_load(name, family, primary, scorers):
    from harness.scoring import scorers_for_task

    task = load_task(ROOT / "tasks" / f"{name}.yaml")
    assert (task.family, task.primary_scorer) == (family, primary)
    sizes = {s: len(task.split(s)) for s in ("train", "dev", "test")}
    assert sizes["train"] >= 150 and sizes["dev"] >= 40 and sizes["test"] >= 60
    assert len(scorers_for_task(task)) == scorers
    for path in (ROOT / "tasks" / "data" / name).iterdir():
        assert path.stat().st_size < 1_000_000


def test_few_shot_for_generation_draws_from_train_only():
    from harness.variants.prompt import load_variant
    from harness.variants.shots import select_shots

    task = load_task(ROOT / "tasks" / "support_record.yaml")
    variant = load_variant(ROOT / "baselines" / "few_shot.yaml")
    shots = select_shots(task, variant, seed=13)
    train = {ex.id for ex in task.split("train")}
    assert len(shots) == 8 and {s.id for s in shots} <= train
    prompt = variant.render(task, task.split("test")[0].input, shots)
    assert prompt.endswith("Output:") and prompt.count("\nOutput: {") == 8
    assert '"additionalProperties": false' in prompt  # the schema is in the instructions
