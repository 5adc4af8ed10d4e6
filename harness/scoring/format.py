"""Format compliance: parse rates, JSON Schema validity, field-level P/R/F1, exact match.

Per example, for ``format: json`` tasks:

- ``parse_strict``: the whole output (stripped) is one JSON object.
- ``parse_lenient``: the one JSON object in the output could be taken; the
  explanation says when it had to be extracted from surrounding text
  (:mod:`harness.answers`: a fragment of a broken answer, or one of two
  objects, is not taken).
- ``schema_valid``: the parsed object validates against the task's JSON
  Schema (draft 2020-12; checked itself when the task loads).
- ``field_precision`` / ``field_recall`` / ``field_f1``: over the answer's
  fields (:mod:`harness.scoring.fields`: leaves at unambiguous paths, list
  items aligned as whole objects, order-free), values normalised as the
  task's ``normalize`` says.
- ``exact_match``: every field matches: the two normalised trees are equal.

For ``format: regex`` tasks ``regex_match`` replaces the parse scores and
the fields are the regex's named groups. The gold answer is read by the
same parser as the output (:func:`harness.answers.read_gold`). An
unparseable output scores 0 on everything: a counted failure.
"""

from __future__ import annotations

import json
from typing import Any

from harness.answers import answer_value, read_gold
from harness.scoring.base import Output, Score, task_scorer
from harness.scoring.fields import Comparison, compare, leaves, pointer
from harness.tasks import Example, FormatTask, Task


def _spec(task: Task) -> FormatTask:
    assert isinstance(task.spec, FormatTask)
    return task.spec


def _is_json(task: Task) -> bool:
    return _spec(task).format == "json"


def _has_schema(task: Task) -> bool:
    return _is_json(task) and task.resources.get("schema") is not None


def _is_regex(task: Task) -> bool:
    return _spec(task).format == "regex"


def _gold(task: Task, example: Example) -> Any | None:
    """The gold answer as a JSON value, read by the output parser (``None``: unreadable)."""
    parsed = read_gold(task.spec, task.resources, example.target)
    if parsed.prediction is None:
        return None
    return answer_value(task.spec, task.resources, parsed.prediction)


def _compare(task: Task, example: Example, output: Output) -> Comparison | None:
    gold = _gold(task, example)
    if gold is None or output.prediction is None:
        return None
    pred = answer_value(task.spec, task.resources, output.prediction)
    return compare(gold, pred, _spec(task).normalize)


def _why_failed(output: Output) -> str:
    err = output.detail.get("error") or output.detail.get("strict_error") or "unparseable"
    return f"unparseable output ({err}): {output.text[:60]!r}"


@task_scorer("parse_strict", family="format", applies=_is_json, requires="format: json",
             args=("format",))
def parse_strict(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the whole output is exactly one JSON object."""
    how = output.detail.get("parse")
    if how == "strict":
        return Score(1.0, "the output is one JSON object")
    err = output.detail.get("strict_error", "not JSON")
    return Score(0.0, f"not strict JSON ({err})", {"parse": how})


@task_scorer("parse_lenient", family="format", applies=_is_json, requires="format: json",
             args=("format",))
def parse_lenient(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the one JSON object in the output could be taken (saying when extracted)."""
    how = output.detail.get("parse")
    if how == "strict":
        return Score(1.0, "parsed as is", {"extracted": False})
    if how == "extracted":
        at = output.detail.get("offset", 0)
        return Score(1.0, f"extracted the one JSON object at char {at} of the output",
                     {"extracted": True, "offset": at})
    return Score(0.0, _why_failed(output), {"extracted": False})


@task_scorer("schema_valid", family="format", applies=_has_schema,
             requires="format: json with a 'schema'", args=("json_schema",))
def schema_valid(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the parsed object validates against the task's JSON Schema."""
    if output.prediction is None:
        return Score(0.0, _why_failed(output), {"parsed": False})
    validator = task.resources["validator"]  # built once at load, every $ref resolved
    errors = sorted(validator.iter_errors(json.loads(output.prediction)),
                    key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return Score(1.0, "valid against the schema", {"parsed": True, "errors": 0})
    first = errors[0]
    where = pointer(tuple(first.absolute_path)) or "(root)"
    return Score(0.0, f"{len(errors)} schema error(s); first at {where}: {first.message}",
                 {"parsed": True, "errors": len(errors)})


def _gold_unscorable(example: Example, task: Task) -> str | None:
    """Why field scores are undefined on ``example``: its gold answer has no fields."""
    gold = _gold(task, example)
    if gold is None:
        return "the gold output does not parse"
    return None if any(True for _ in leaves(gold)) else "the gold answer has no fields"


def _prf_scores(example: Example, output: Output, task: Task) -> tuple[Score, Score, Score]:
    if (why := _gold_unscorable(example, task)) is not None:
        bad = Score.unscored(why)
        return bad, bad, bad
    cmp = _compare(task, example, output)
    if cmp is None:
        fail = Score(0.0, _why_failed(output), {"parsed": False})
        return fail, fail, fail
    p, r, f1, tp = cmp.precision, cmp.recall, cmp.f1, cmp.matched
    missing = [f"{pointer(d.path)}={d.gold}" for d in cmp.diffs if d.status in ("bad", "miss")]
    extra = [f"{pointer(d.path)}={d.pred}" for d in cmp.diffs if d.status in ("bad", "extra")]
    detail = {"matched": tp, "gold_fields": cmp.n_gold, "pred_fields": cmp.n_pred,
              "missing": missing[:10], "extra": extra[:10]}
    tail = (f"; missing {', '.join(missing[:3])}" if missing else "") + (
        f"; wrong/extra {', '.join(extra[:3])}" if extra else "")
    why = f"{tp}/{cmp.n_pred} predicted fields right, {tp}/{cmp.n_gold} gold"
    return (Score(p, f"precision {p:.2f}: {why}{tail}", detail),
            Score(r, f"recall {r:.2f}: {why}{tail}", detail),
            Score(f1, f"F1 {f1:.2f}: {why}{tail}", detail))


@task_scorer("field_precision", family="format", kind="continuous",
             undefined=_gold_unscorable, args=("normalize",))
def field_precision(example: Example, output: Output, task: Task) -> Score:
    """Share of the predicted answer's fields that match the gold answer's."""
    return _prf_scores(example, output, task)[0]


@task_scorer("field_recall", family="format", kind="continuous",
             undefined=_gold_unscorable, args=("normalize",))
def field_recall(example: Example, output: Output, task: Task) -> Score:
    """Share of gold fields the prediction has."""
    return _prf_scores(example, output, task)[1]


@task_scorer("field_f1", family="format", kind="continuous",
             undefined=_gold_unscorable, args=("normalize",))
def field_f1(example: Example, output: Output, task: Task) -> Score:
    """Harmonic mean of field precision and recall."""
    return _prf_scores(example, output, task)[2]


@task_scorer("exact_match", family="format", args=("normalize",))
def exact_match(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the whole normalised answer equals the gold answer (lists order-free)."""
    if output.prediction is None:
        return Score(0.0, _why_failed(output))
    if _gold(task, example) is None:
        return Score.unscored("the gold output does not parse")
    cmp = _compare(task, example, output)
    assert cmp is not None
    if cmp.exact:
        return Score(1.0, "the whole answer matches the gold answer")
    wrong = [pointer(d.path) for d in cmp.diffs if d.status != "ok"]
    return Score(0.0, f"differs from the gold answer in {len(wrong)} field(s): "
                 f"{', '.join(wrong[:3])}", {"differs": wrong[:10]})


@task_scorer("regex_match", family="format", applies=_is_regex, requires="format: regex",
             args=("regex",))
def regex_match(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the output's first line fully matches the task's regex."""
    if output.prediction is None:
        return Score(0.0, f"first line does not match the regex: {output.text[:60]!r}")
    return Score(1.0, "matches the regex", {"groups": output.detail.get("groups", {})})
