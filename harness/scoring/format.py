"""Format compliance: parse rates, JSON Schema validity, field-level P/R/F1, exact match.

Per example, for ``format: json`` tasks:

- ``parse_strict``: the whole output (stripped) is one JSON object.
- ``parse_lenient``: a JSON object could be taken from the output; the
  explanation says when it had to be extracted from surrounding text.
- ``schema_valid``: the parsed object validates against the task's JSON
  Schema (draft 2020-12; checked itself when the task loads).
- ``field_precision`` / ``field_recall`` / ``field_f1``: over flattened
  fields (nested keys joined by dots, lists as multisets), values
  normalised as the task's ``normalize`` says.
- ``exact_match``: the normalised object equals the gold object.

For ``format: regex`` tasks ``regex_match`` replaces the parse scores and
the fields are the regex's named groups. An unparseable output scores 0
on everything: a counted failure.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from harness.scoring.base import Output, Score, task_scorer
from harness.scoring.normalize import flatten, prf
from harness.tasks import Example, FormatTask, Task

_VALIDATORS: dict[int, Any] = {}


def _spec(task: Task) -> FormatTask:
    assert isinstance(task.spec, FormatTask)
    return task.spec


def _is_json(task: Task) -> bool:
    return _spec(task).format == "json"


def _has_schema(task: Task) -> bool:
    return _is_json(task) and task.resources.get("schema") is not None


def _is_regex(task: Task) -> bool:
    return _spec(task).format == "regex"


def _fields(task: Task, text: str | None) -> Counter[tuple[str, str]] | None:
    """The flattened fields of a gold or predicted answer (``None``: unparseable)."""
    if text is None:
        return None
    spec = _spec(task)
    if spec.format == "regex":
        pattern = task.resources.get("regex") or re.compile(str(spec.regex))
        m = pattern.fullmatch(text.strip())
        if m is None:
            return None
        groups = m.groupdict() or {"line": text.strip()}
        return flatten({k: v for k, v in groups.items() if v is not None}, spec.normalize)
    try:
        return flatten(json.loads(text), spec.normalize)
    except json.JSONDecodeError:
        return None


def _why_failed(output: Output) -> str:
    err = output.detail.get("error") or output.detail.get("strict_error") or "unparseable"
    return f"unparseable output ({err}): {output.text[:60]!r}"


@task_scorer("parse_strict", family="format", applies=_is_json, requires="format: json")
def parse_strict(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the whole output is exactly one JSON object."""
    how = output.detail.get("parse")
    if how == "strict":
        return Score(1.0, "the output is one JSON object")
    err = output.detail.get("strict_error", "not JSON")
    return Score(0.0, f"not strict JSON ({err})", {"parse": how})


@task_scorer("parse_lenient", family="format", applies=_is_json, requires="format: json")
def parse_lenient(example: Example, output: Output, task: Task) -> Score:
    """1.0 when a JSON object could be taken from the output (saying when it was extracted)."""
    how = output.detail.get("parse")
    if how == "strict":
        return Score(1.0, "parsed as is", {"extracted": False})
    if how == "extracted":
        at = output.detail.get("offset", 0)
        return Score(1.0, f"extracted the first JSON object at char {at} of the output",
                     {"extracted": True, "offset": at})
    return Score(0.0, _why_failed(output), {"extracted": False})


@task_scorer("schema_valid", family="format", applies=_has_schema,
             requires="format: json with a 'schema'")
def schema_valid(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the parsed object validates against the task's JSON Schema."""
    from jsonschema import Draft202012Validator

    if output.prediction is None:
        return Score(0.0, _why_failed(output), {"parsed": False})
    schema = task.resources["schema"]
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(json.loads(output.prediction)),
                    key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return Score(1.0, "valid against the schema", {"parsed": True, "errors": 0})
    first = errors[0]
    where = "/".join(str(p) for p in first.absolute_path) or "(root)"
    return Score(0.0, f"{len(errors)} schema error(s); first at {where}: {first.message}",
                 {"parsed": True, "errors": len(errors)})


def _gold_unscorable(example: Example, task: Task) -> str | None:
    """Why field scores are undefined on ``example``: its gold answer has no fields."""
    gold = _fields(task, example.target)
    if gold is None:
        return "the gold output does not parse"
    return None if sum(gold.values()) else "the gold answer has no fields"


def _prf_scores(example: Example, output: Output, task: Task) -> tuple[Score, Score, Score]:
    gold = _fields(task, example.target)
    pred = _fields(task, output.prediction)
    if (why := _gold_unscorable(example, task)) is not None or gold is None:
        bad = Score.unscored(why or "the gold output does not parse")
        return bad, bad, bad
    if pred is None:
        fail = Score(0.0, _why_failed(output), {"parsed": False, "gold_fields": len(gold)})
        return fail, fail, fail
    p, r, f1, tp = prf(gold, pred)
    missing = sorted(f"{k}={v}" for (k, v) in (gold - pred))
    extra = sorted(f"{k}={v}" for (k, v) in (pred - gold))
    detail = {"matched": tp, "gold_fields": sum(gold.values()),
              "pred_fields": sum(pred.values()), "missing": missing[:10], "extra": extra[:10]}
    tail = (f"; missing {', '.join(missing[:3])}" if missing else "") + (
        f"; wrong/extra {', '.join(extra[:3])}" if extra else "")
    why = f"{tp}/{sum(pred.values())} predicted fields right, {tp}/{sum(gold.values())} gold"
    return (Score(p, f"precision {p:.2f}: {why}{tail}", detail),
            Score(r, f"recall {r:.2f}: {why}{tail}", detail),
            Score(f1, f"F1 {f1:.2f}: {why}{tail}", detail))


@task_scorer("field_precision", family="format", kind="continuous",
             undefined=_gold_unscorable)
def field_precision(example: Example, output: Output, task: Task) -> Score:
    """Share of predicted (flattened, normalised) fields that are in the gold object."""
    return _prf_scores(example, output, task)[0]


@task_scorer("field_recall", family="format", kind="continuous",
             undefined=_gold_unscorable)
def field_recall(example: Example, output: Output, task: Task) -> Score:
    """Share of gold fields the prediction has."""
    return _prf_scores(example, output, task)[1]


@task_scorer("field_f1", family="format", kind="continuous",
             undefined=_gold_unscorable)
def field_f1(example: Example, output: Output, task: Task) -> Score:
    """Harmonic mean of field precision and recall."""
    return _prf_scores(example, output, task)[2]


@task_scorer("exact_match", family="format")
def exact_match(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the whole normalised answer equals the gold answer."""
    gold = _fields(task, example.target)
    pred = _fields(task, output.prediction)
    if pred is None:
        return Score(0.0, _why_failed(output))
    if gold == pred:
        return Score(1.0, "the whole answer matches the gold answer")
    gold = gold or Counter()
    diff = sum((gold - pred).values()) + sum((pred - gold).values())
    return Score(0.0, f"differs from the gold answer in {diff} field(s)")


@task_scorer("regex_match", family="format", applies=_is_regex, requires="format: regex")
def regex_match(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the output's first line fully matches the task's regex."""
    if output.prediction is None:
        return Score(0.0, f"first line does not match the regex: {output.text[:60]!r}")
    return Score(1.0, "matches the regex", {"groups": output.detail.get("groups", {})})
