"""Parsing a generated text into the family's answer; never raises.

A text that cannot be parsed gives ``prediction=None`` with the reason in
``detail``: a scored failure, counted by the scorers, never a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from harness.taskspec import AnyTask, FormatTask

_DECODER = json.JSONDecoder()


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


def parse_json(text: str) -> Parsed:
    """Strict parse of the whole (stripped) text, else the first JSON object in it.

    ``detail["parse"]`` is ``"strict"``, ``"extracted"`` (lenient: the object
    started at character ``detail["offset"]``) or ``"failed"``.

    >>> parse_json('{"a": 1}').detail["parse"]
    'strict'
    >>> p = parse_json('Sure! {"a": 1} done')
    >>> (p.prediction, p.detail["parse"], p.detail["offset"])
    ('{"a": 1}', 'extracted', 6)
    """
    stripped = text.strip()
    try:
        obj = json.loads(stripped)
        if isinstance(obj, dict):
            return Parsed(json.dumps(obj, ensure_ascii=False), {"parse": "strict"})
        strict_error = f"top-level JSON value is a {type(obj).__name__}, not an object"
    except json.JSONDecodeError as exc:
        strict_error = f"{exc.msg} at char {exc.pos}"
    for match in re.finditer(r"\{", text):
        try:
            obj, end = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return Parsed(json.dumps(obj, ensure_ascii=False),
                          {"parse": "extracted", "offset": match.start(), "end": end,
                           "strict_error": strict_error})
    return Parsed(None, {"parse": "failed", "strict_error": strict_error,
                         "error": "no JSON object found in the output"})


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


def parse_output(spec: AnyTask, resources: dict[str, Any], text: str) -> Parsed:
    """Parse ``text`` the way the task's family needs."""
    if isinstance(spec, FormatTask):
        if spec.format == "regex":
            pattern = resources.get("regex") or re.compile(str(spec.regex))
            return parse_regex(text, pattern)
        return parse_json(text)
    return parse_text(text)
