"""One parser for outputs and gold answers: no fragment, no second object, no lax JSON."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.answers import parse_json, parse_output, read_gold, strict_object
from harness.taskspec import FormatTask, TerminologyTask

_DATA = {"files": {"test": "rows.jsonl"}}
JSON_TASK = FormatTask.model_validate({"name": "f", "family": "format", "data": _DATA})
REGEX_TASK = FormatTask.model_validate({"name": "r", "family": "format", "format": "regex",
                                        "regex": r"ORDER (?P<o>\w+)", "data": _DATA})
TERMS_TASK = TerminologyTask.model_validate({"name": "t", "family": "terminology",
                                             "data": _DATA})


@pytest.mark.parametrize(("text", "why"), [
    # Cut off at max_tokens: the nested {"sku": "A", "qty": 1} is a fragment of it.
    ('{"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B"',
     "at char 0 is cut off"),
    ('Here: {"queue": "BILL", "items": [{"sku": "A", "qty": 1}', "at char 6 is cut off"),
    # Two answers: which one is meant is unclear (the first is not the answer).
    ('{"queue": "BILL"} or maybe {"queue": "SHIP"}', "holds 2 JSON objects (at chars 0, 27)"),
    # A malformed object ahead of a well-formed nested one.
    ('{"queue": BILL, "items": [{"sku": "A"}]}', "at char 0 is malformed"),
    # An array of objects is not an object; its items are not the answer either.
    ('[{"queue": "BILL"}]', "no JSON object found"),
    ('[{"queue": "BILL"}, {"queue": "SHIP"', "at char 0 is cut off"),
    # RFC 8259: no NaN, no repeated key (json.loads would keep the last "a").
    ('{"qty": NaN}', "malformed (NaN is not JSON)"),
    ('{"a": 1, "a": 2}', "malformed (repeated key 'a')"),
])
def test_a_fragment_of_a_broken_answer_is_not_the_answer(text: str, why: str) -> None:
    parsed = parse_json(text)
    assert parsed.prediction is None and parsed.detail["parse"] == "failed"
    assert why in parsed.detail["error"]


@pytest.mark.parametrize(("text", "offset"), [
    ('Sure! {"a": {"b": [1, {"c": 2}]}} hope that helps', 6),
    ('See [1] and {braces} in prose. {"a": 1}', 31),
    ('```json\n{"a": 1}\n```', 8),
])
def test_the_one_object_in_surrounding_text_is_extracted(text: str, offset: int) -> None:
    parsed = parse_json(text)
    assert parsed.detail["parse"] == "extracted" and parsed.detail["offset"] == offset
    assert json.loads(parsed.prediction or "") == json.loads(text[offset:parsed.detail["end"]])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=4), max_size=4),
       st.integers(1, 40))
def test_no_cut_off_answer_parses(obj: dict[str, object], cut: int) -> None:
    # Any proper prefix of a one-object answer is a broken answer: never a parse.
    text = json.dumps({"answer": obj, "more": [obj, obj]})
    prefix = text[:max(1, len(text) - cut)]
    assert parse_json(prefix).prediction is None


def test_read_gold_reads_what_an_output_parse_reads() -> None:
    gold = '{"queue": "BILL"}'
    assert read_gold(JSON_TASK, {}, gold) == parse_output(JSON_TASK, {}, gold)
    assert read_gold(JSON_TASK, {}, '[{"a": 1}]').detail["error"].startswith(
        "is not a JSON object")
    assert read_gold(JSON_TASK, {}, '{"a": Infinity}').detail["error"].startswith("is not JSON")
    # Lenient extraction is for outputs only: a gold answer is the whole text.
    assert read_gold(JSON_TASK, {}, 'gold: {"a": 1}').prediction is None


def test_read_gold_refuses_a_gold_the_output_parser_reads_in_part() -> None:
    # The output parser reads "ORDER A1" of "ORDER A1\nORDER B2": no output could
    # equal this gold, so it is refused (issue 14 case 8), for every one-line family.
    res = {"regex": re.compile(r"ORDER (?P<o>\w+)(\nORDER \w+)?")}
    gold = read_gold(REGEX_TASK, res, "ORDER A1\nORDER B2")
    assert gold.prediction is None and gold.detail["error"].startswith("spans 2 lines")
    assert read_gold(REGEX_TASK, res, "  ORDER A1  ").prediction == "ORDER A1"
    assert "does not match" in read_gold(REGEX_TASK, res, "ORDER").detail["error"]
    assert read_gold(TERMS_TASK, {}, "Proof of\nDelivery").detail["error"].startswith(
        "spans 2 lines, but a terminology answer is one line")


def test_strict_object_reads_stored_answers_only_whole() -> None:
    assert strict_object('{"a": 1}') == {"a": 1}
    assert strict_object({"a": 1}) == {"a": 1}
    assert strict_object('x {"a": 1}') is None and strict_object("[1]") is None
    assert strict_object(None) is None
