"""The gold check at load and the scorer read the same text (issue 14 case 8).

A gold answer is read at load by the parser that reads an output
(:func:`harness.answers.read_gold`); a gold that parser would read only in
part is refused as ``file:line`` with exit 2, and every gold that loads
scores 1.0 on every scorer when a model outputs it verbatim.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from harness.answers import parse_output
from harness.cli import main
from harness.errors import UsageError
from harness.scoring import Output, score_all
from harness.tasks import Task, load_task

# Two-line answers: the pattern and the gold both span a line break.
TWO_LINE_REGEX = r"ORDER (?P<order>\w+)\nQTY (?P<qty>\d+)"


def _write(tmp_path: Path, head: str, rows: list[dict[str, Any]], columns: str) -> Path:
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "task.yaml").write_text(
        f"{head}data:\n  columns: {columns}\n  files: {{test: rows.jsonl}}\n")
    return tmp_path / "task.yaml"


def _regex_task(tmp_path: Path, golds: list[str], regex: str) -> Path:
    rows = [{"id": f"l{i}", "text": "ship it", "line": g} for i, g in enumerate(golds, 1)]
    return _write(tmp_path, f"name: lines\nfamily: format\nformat: regex\nregex: '{regex}'\n",
                  rows, "{id: id, input: text, target: line}")


def test_a_two_line_regex_gold_is_refused_at_its_data_line(tmp_path, capsys):
    # Before: validate matched the pattern against the whole gold and said ok, then
    # an output equal to the gold scored 0 (the parser reads its first line only).
    path = _regex_task(tmp_path, ["ORDER A1\nQTY 3", "ORDER B2\nQTY 4"], TWO_LINE_REGEX)
    with pytest.raises(UsageError, match="'l1' spans 2 lines, but a regex answer is one line"
                       ) as err:
        load_task(path)
    # The first row of rows.jsonl.
    assert (err.value.path, err.value.line) == (str(tmp_path / "rows.jsonl"), 1)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().err
    assert out.startswith(f"{tmp_path / 'rows.jsonl'}:1: gold output of example 'l1' spans 2")
    assert out.count("\n") == 1 and "Traceback" not in out


def test_an_output_equal_to_any_loadable_gold_scores_one_everywhere(tmp_path):
    # The gold check is the output parser, so what loads is what an output parses to.
    path = _regex_task(tmp_path, ["ORDER A1 QTY 3", "  ORDER B2 QTY 10 "],
                       r"ORDER (?P<order>\w+) QTY (?P<qty>\d+)")
    task = load_task(path)
    for ex in task.split("test"):
        assert set(_score(task, ex.id, ex.target).values()) == {1.0}


def _score(task: Task, ex_id: str, text: str) -> dict[str, float | None]:
    example = next(ex for ex in task.split("test") if ex.id == ex_id)
    parsed = parse_output(task.spec, task.resources, text)
    scores = score_all(task, example, Output(text, parsed.prediction, parsed.detail))
    return {k: v["value"] for k, v in scores.items()}


@pytest.mark.parametrize(("target", "message"), [
    # Valid JSON but not an object: no output parse ever yields an array.
    ('[{"a": 1}]', "is not a JSON object: top-level JSON value is a list"),
    # json.loads keeps the last "a" (the old check passed); the output parser refuses it.
    ('{"a": 1, "a": 2}', "is not JSON: repeated key 'a'"),
    ('{"a": NaN}', "is not JSON: NaN is not JSON"),
])
def test_a_json_gold_is_read_by_the_strict_output_parser(tmp_path, target, message):
    with (tmp_path / "rows.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["id", "text", "record"], ["r1", "hi", target]])
    (tmp_path / "task.yaml").write_text(
        "name: rec\nfamily: format\ndata:\n  columns: {id: id, input: text, target: record}\n"
        "  files: {test: rows.csv}\n")
    with pytest.raises(UsageError, match=message) as err:
        load_task(tmp_path / "task.yaml")
    assert err.value.line == 2  # the CSV row under the header


def test_one_line_families_refuse_multi_line_references(tmp_path):
    # Terminology: the output's first line is compared with the whole gold.
    path = _write(tmp_path, "name: terms\nfamily: terminology\n",
                  [{"id": "t1", "x": "Expand POD", "y": "Proof of\nDelivery"}],
                  "{id: id, input: x, target: y}")
    with pytest.raises(UsageError, match="'t1' spans 2 lines, but a terminology answer"):
        load_task(path)


def test_tone_references_of_several_lines_load(tmp_path):
    # Tone compares an output with its references by similarity, not equality, so a
    # reference of two lines is a harder target, not one no output could reach: it loads
    # as written (ParaDetox has such references; refusing them refused the whole dataset).
    blunt = ["No.", "Late.", "Wrong box.", "Refund sent."]
    house = ["Thank you, we cannot do that.", "We are sorry it is late.",
             "We apologise for the wrong box.", "Thank you, your refund is on its way."]
    pairs = list(zip(blunt, house, strict=True))
    train = [{"id": f"t{i}", "blunt": b, "house": h} for i, (b, h) in enumerate(pairs)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    rows = [{"id": f"r{i}", "blunt": b, "house": h, "alt": h} for i, (b, h) in enumerate(pairs)]
    rows[2]["alt"] = "We apologise.\nThe right box is on its way."
    path = _write(tmp_path, "name: tone\nfamily: tone\nstyle: {source: blunt, target: house}\n",
                  rows, "{id: id, input: blunt, target: house, references: [alt]}")
    path.write_text(path.read_text().replace("{test: rows.jsonl}",
                                             "{train: train.jsonl, test: rows.jsonl}"))
    task = load_task(path)
    (r2,) = [ex for ex in task.split("test") if ex.id == "r2"]
    assert r2.fields["alt"] == "We apologise.\nThe right box is on its way."
