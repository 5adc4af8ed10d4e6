"""Reading the answer in a text: one parser for model outputs and gold answers.

The same functions read what a model generated (at run time) and a task's
gold answers (when the task loads: :func:`read_gold`), so a gold answer that
passes the load-time check is exactly what an identical output parses to.
A text that cannot be parsed gives ``prediction=None`` with the reason in
``detail``: a scored failure, counted by the scorers, never a crash.

- JSON (``format: json``): strict, the whole stripped text is one JSON
  object (RFC 8259: no ``NaN``/``Infinity``, no repeated key); else lenient,
  the one complete JSON object in surrounding text. A fragment of a broken
  answer is not the answer: lenient reading fails when an object is cut off
  or malformed (an object nested in it is never taken), when the objects sit
  inside an array, or when the text holds two or more objects.
- ``format: regex``, tone and terminology: the first non-empty line, stripped
  (answers are one line: generation stops at a line break by default). A gold
  answer of several lines is refused at load, since no output could equal it.

This module imports no scorer, so task loading (:mod:`harness.taskcheck`)
can use it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.taskspec import AnyTask, FormatTask, ToneTask

__all__ = ["Parsed", "answer_value", "first_line", "parse_json", "parse_output",
           "parse_regex", "parse_text", "read_gold", "strict_object"]


class _NotJson(ValueError):
    """Text that Python's json module accepts but RFC 8259 JSON does not."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _NotJson(f"repeated key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")


_DECODER = json.JSONDecoder(object_pairs_hook=_no_repeats, parse_constant=_no_constant)
# Where a JSON object or an array may start; a brace before a word ({name}) is prose.
_START = re.compile(r"\{\s*[\"}]|\[")
_ARRAY_OF_VALUES = re.compile(r"\[\s*[\[{]")


@dataclass(frozen=True)
class Parsed:
    """A parsed answer (``None`` when unparseable) and how it was obtained."""

    prediction: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def first_line(text: str) -> str:
    """The first non-empty line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _loads(text: str) -> Any:
    obj, end = _DECODER.raw_decode(text)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return obj


def _strict(text: str) -> tuple[dict[str, Any] | None, str]:
    try:
        obj = _loads(text.strip())
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at char {exc.pos}"
    except _NotJson as exc:
        return None, str(exc)
    if isinstance(obj, dict):
        return obj, ""
    return None, f"top-level JSON value is a {type(obj).__name__}, not an object"


def _balanced_end(text: str, start: int) -> int | None:
    """Where the bracket group opened at ``start`` closes (strings skipped); None: cut off."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{}[]":
            depth += 1 if ch in "{[" else -1
            if depth == 0:
                return i + 1
    return None


@dataclass
class _Scan:
    """The top-level JSON objects in a text and the broken ones (start, why)."""

    objects: list[tuple[int, int, dict[str, Any]]] = field(default_factory=list)
    broken: list[tuple[int, str]] = field(default_factory=list)


def _scan(text: str) -> _Scan:
    """Top-level objects of ``text``; what sits inside an object or array is skipped."""
    out, pos = _Scan(), 0
    while (m := _START.search(text, pos)) is not None:
        i = m.start()
        try:
            value, end = _DECODER.raw_decode(text, i)
        except (json.JSONDecodeError, _NotJson) as exc:
            if text[i] == "[" and not _ARRAY_OF_VALUES.match(text, i):
                pos = i + 1  # a bracket in prose
                continue
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            close = _balanced_end(text, i)
            out.broken.append((i, "cut off" if close is None else f"malformed ({why})"))
            if close is None:
                break  # everything after it is inside the broken value
            pos = close
            continue
        if isinstance(value, dict):
            out.objects.append((i, end, value))
        pos = end
    return out


def _lenient_error(scan: _Scan) -> str:
    if scan.broken:
        at, why = scan.broken[0]
        return f"the JSON value at char {at} is {why}"
    if len(scan.objects) > 1:
        starts = ", ".join(str(s) for s, _, _ in scan.objects[:3])
        return (f"the output holds {len(scan.objects)} JSON objects (at chars {starts}): "
                "which one is the answer is unclear")
    return "no JSON object found in the output (an object inside an array does not count)"


def parse_json(text: str) -> Parsed:
    """Strict parse of the whole (stripped) text, else the one JSON object in it.

    ``detail["parse"]`` is ``"strict"``, ``"extracted"`` (lenient: the object
    started at character ``detail["offset"]``) or ``"failed"``.

    >>> parse_json('{"a": 1}').detail["parse"]
    'strict'
    >>> p = parse_json('Sure! {"a": 1} done')
    >>> (p.prediction, p.detail["parse"], p.detail["offset"])
    ('{"a": 1}', 'extracted', 6)
    >>> parse_json('{"a": {"b": 1}, "c": [').prediction is None  # cut off: no fragment
    True
    """
    obj, strict_error = _strict(text)
    if obj is not None:
        return Parsed(json.dumps(obj, ensure_ascii=False), {"parse": "strict"})
    scan = _scan(text)
    if len(scan.objects) == 1 and not scan.broken:
        start, end, found = scan.objects[0]
        return Parsed(json.dumps(found, ensure_ascii=False),
                      {"parse": "extracted", "offset": start, "end": end,
                       "strict_error": strict_error})
    return Parsed(None, {"parse": "failed", "strict_error": strict_error,
                         "error": _lenient_error(scan)})


def strict_object(value: Any) -> dict[str, Any] | None:
    """A stored JSON answer as an object: a mapping as is, a text when it is one object.

    For readers of stored records (report, analysis); ``None`` for anything else.
    """
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        return _strict(value)[0]
    return None


def parse_regex(text: str, pattern: re.Pattern[str]) -> Parsed:
    """The first non-empty line when it fully matches ``pattern`` (groups in detail)."""
    line = first_line(text)
    m = pattern.fullmatch(line)
    if m is None:
        return Parsed(None, {"parse": "failed", "error": "first line does not match the regex"})
    return Parsed(line, {"parse": "strict", "groups": m.groupdict()})


def parse_text(text: str) -> Parsed:
    """Free text (tone, terminology): the first non-empty line; empty is a failure."""
    line = first_line(text)
    if not line:
        return Parsed(None, {"parse": "failed", "error": "empty output"})
    return Parsed(line, {"parse": "strict"})


def _pattern(spec: FormatTask, resources: Mapping[str, Any]) -> re.Pattern[str]:
    compiled = resources.get("regex")
    return compiled if isinstance(compiled, re.Pattern) else re.compile(str(spec.regex))


def parse_output(spec: AnyTask, resources: Mapping[str, Any], text: str) -> Parsed:
    """Parse ``text`` the way the task's family needs."""
    if isinstance(spec, FormatTask):
        if spec.format == "regex":
            return parse_regex(text, _pattern(spec, resources))
        return parse_json(text)
    return parse_text(text)


def read_gold(spec: AnyTask, resources: Mapping[str, Any], text: str) -> Parsed:
    """A gold answer read by the output parser; it must read the whole gold.

    Returns the parse of ``text`` (what an identical output parses to), or
    ``prediction=None`` with ``detail["error"]`` saying why no output could
    equal this gold: it does not parse strictly, or the parser reads only
    part of it (a gold answer of several lines where answers are one line and
    compared for equality: regex and terminology, not tone, whose references
    are compared by similarity).
    """
    stripped = text.strip()
    if isinstance(spec, FormatTask) and spec.format == "json":
        obj, why = _strict(stripped)
        if obj is None:
            what = "a JSON object" if why.startswith("top-level") else "JSON"
            return Parsed(None, {"parse": "failed", "error": f"is not {what}: {why}",
                                 "hint": "a gold answer is one JSON object, as an output "
                                         "must be"})
        return Parsed(json.dumps(obj, ensure_ascii=False), {"parse": "strict"})
    lines = [line for line in stripped.splitlines() if line.strip()]
    # A tone reference is compared by similarity, not equality: one of several
    # lines (real data has them: ParaDetox) is a harder target, not an impossible one.
    if len(lines) > 1 and not isinstance(spec, ToneTask):
        kind = "a regex answer" if isinstance(spec, FormatTask) else f"a {spec.family} answer"
        return Parsed(None, {"parse": "failed", "error": (
            f"spans {len(lines)} lines, but {kind} is one line: an output is read up to "
            "its first line break, so no output could equal it"),
            "hint": "write each gold answer on one line"})
    parsed = parse_output(spec, resources, stripped)
    if parsed.prediction is None and isinstance(spec, FormatTask):
        return Parsed(None, {"parse": "failed", "error": "does not match the task's regex"})
    return parsed


def answer_value(spec: AnyTask, resources: Mapping[str, Any], prediction: str) -> Any:
    """The JSON value of a parsed answer: the object (json), named groups (regex), the text.

    For ``format: regex`` the fields are the named groups that matched (a
    pattern without named groups gives ``{"line": text}``).
    """
    if isinstance(spec, FormatTask):
        if spec.format == "json":
            return json.loads(prediction)
        m = _pattern(spec, resources).fullmatch(prediction)
        groups = m.groupdict() if m is not None else {}
        if not groups:
            return {"line": prediction}
        return {k: v for k, v in groups.items() if v is not None}
    return prediction
