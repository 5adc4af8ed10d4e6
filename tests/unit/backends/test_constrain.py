"""Output constraints: regex -> GBNF, label and schema grammars, server request fields."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.backends.constrain import (
    Constraint,
    labels_gbnf,
    require,
    server_fields,
    to_gbnf,
    unwrap_label,
)
from harness.backends.regex_gbnf import gbnf_char, regex_to_gbnf
from harness.errors import UsageError


@pytest.mark.parametrize(("pattern", "grammar"), [
    # Literals merge into one string; "-" is escaped as \x2D (GBNF has no \- escape).
    (r"ab-c", r'root ::= "ab\x2Dc"'),
    (r"^[A-Z]{3}-\d+$", r'root ::= [A-Z]{3} "\x2D" [0-9]+'),
    (r"(?P<type>[A-Z]{2,3})/(?P<n>\d{4})", r'root ::= ([A-Z]{2,3}) "/" ([0-9]{4})'),
    (r"yes|no", r'root ::= ("yes" | "no")'),
    (r"a.b*?c+", r'root ::= "a" [^\n] "b"* "c"+'),
    (r"[\w.-]+@x\.com", r'root ::= [a-zA-Z0-9_.\x2D]+ "@x.com"'),
    (r"(?:ab)?c{2,}", r'root ::= ("ab")? "c"{2,}'),
    (r"[^\]\\]", r'root ::= [^\x5D\x5C]'),
    (r'say "\t"', r'root ::= "say \x22\x09\x22"'),
    (r"\Aé\s\Z", r'root ::= "\u00E9" [ \t\n\r\x0B\x0C]'),
])
def test_regex_to_gbnf(pattern, grammar):
    assert regex_to_gbnf(pattern, leading_space=False) == grammar


def test_leading_space_is_optional_by_default():
    assert regex_to_gbnf("x") == 'root ::= " "? "x"'


@pytest.mark.parametrize(("pattern", "named"), [
    (r"(?=a)b", "a look-ahead"), (r"(?!a)b", "a negative look-ahead"),
    (r"(?<=a)b", "a look-behind"), (r"(a)\1", r"the back-reference '\1'"),
    (r"a\bc", r"the escape '\b'"), (r"(?i)abc", "an inline flag"),
    (r"a^b", "the anchor '^' inside the pattern"), (r"a$b", "the anchor '$' inside"),
    (r"(ab", "an unbalanced '('"), (r"ab)", "an unbalanced ')'"), (r"[ab", "unterminated '['"),
    (r"*a", "a quantifier '*' with nothing to repeat"), (r"a**", "a quantifier after"),
    (r"[z-a]", "the range z-a"), (r"a{3,1}", "max below min"), ("a\\", "a trailing backslash"),
    (r"(?P=x)", "a named back-reference"), (r"[\D]", r"negated class escape '\D'"),
])
def test_unsupported_regex_is_refused_naming_the_construct(pattern, named):
    with pytest.raises(UsageError, match="cannot be turned into a grammar") as err:
        regex_to_gbnf(pattern)
    assert named in err.value.message
    assert "supported:" in (err.value.hint or "")


@given(st.text(min_size=1, max_size=20))
def test_gbnf_char_output_is_safe_inside_literals_and_classes(text):
    """No raw quote, backslash-less escape, bracket, dash, caret or control char survives."""
    for c in text:
        out = gbnf_char(c)
        if len(out) == 1:
            assert out not in '"\\[]-^' and out.isprintable()
        else:
            assert re.fullmatch(r"\\(x[0-9A-F]{2}|u[0-9A-F]{4}|U[0-9A-F]{8})", out), out
            assert chr(int(out[2:], 16)) == c


def test_labels_gbnf_escapes_each_label():
    assert labels_gbnf(["ORCA", 'big "fish"', "a-b"]) == (
        r'root ::= " "? ("ORCA" | "big \x22fish\x22" | "a\x2Db")')


def test_schema_grammar_is_one_line_json():
    pytest.importorskip("llama_cpp")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    grammar = to_gbnf(Constraint.for_schema(schema))
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["space"] == '" "?'  # no newline between tokens
    assert rules["char"].startswith('[^"\\\\\\x00-\\x1F]')  # no raw control chars in strings
    assert rules["root"].startswith('"{"')


def test_schema_constraint_is_compact_and_keeps_the_property_order():
    a = Constraint.for_schema({"b": 1, "a": {"y": 2, "x": 1}})
    assert a.schema == '{"b":1,"a":{"y":2,"x":1}}'
    assert list(a.schema_dict) == ["b", "a"] and a == Constraint.for_schema(a.schema_dict)
    # The grammar writes properties in schema order, so another order is another
    # constraint (and another cache key).
    assert a != Constraint.for_schema({"a": {"y": 2, "x": 1}, "b": 1})


def test_type_lists_keep_their_keywords_in_the_grammar():
    pytest.importorskip("llama_cpp")
    # llama-cpp-python's converter alone drops "pattern" next to a list of types
    # (the bug expand_type_lists works around): "LF12A..." must be forced.
    schema = {"type": "object", "properties": {"t": {"type": ["string", "null"],
                                                     "pattern": "^LF[0-9]{2}$"}},
              "required": ["t"]}
    grammar = to_gbnf(Constraint.for_schema(schema))
    assert '"L" "F"' in grammar and "null" in grammar


def test_schema_grammar_follows_the_schema_property_order():
    pytest.importorskip("llama_cpp")
    schema = {"type": "object", "properties": {"z": {"type": "integer"}, "a": {"type":
              "integer"}}, "required": ["z", "a"]}
    root = next(r for r in to_gbnf(Constraint.for_schema(schema)).splitlines()
                if r.startswith("root ::="))
    assert root.index("z-kv") < root.index("a-kv")


def test_as_regex():
    assert Constraint.for_labels(["A.B", "C"]).as_regex() == r" ?(A\.B|C)"
    assert Constraint.for_regex("^[0-9]+$").as_regex() == " ?([0-9]+)"
    with pytest.raises(ValueError):
        Constraint.for_schema({}).as_regex()


@pytest.mark.parametrize(("text", "expected"), [
    ('"ORCA"', "ORCA"), (' "ORCA" ', "ORCA"), ("ORCA", "ORCA"), ("42", "42"), ('{"a": 1}',
                                                                              '{"a": 1}')])
def test_unwrap_label(text, expected):
    assert unwrap_label(text) == expected


def test_require_names_the_backend_the_kind_and_what_it_can_do():
    require(frozenset({"labels"}), "labels", "fake")  # supported: nothing raised
    with pytest.raises(UsageError) as err:
        require(frozenset({"labels"}), "schema", "fake")
    assert err.value.message == ("backend fake cannot constrain its output to a JSON Schema "
                                 "(constrain: schema); it can constrain: labels")
    with pytest.raises(UsageError, match="it can constrain: nothing"):
        require(frozenset(), "regex", "ollama")


SCHEMA = {"type": "object", "properties": {"t": {"enum": ["A", "B"]}}, "required": ["t"]}


@pytest.mark.parametrize(("dialect", "constraint", "args", "body"), [
    ("openai", Constraint.for_schema(SCHEMA),
     {"response_format": {"type": "json_schema", "json_schema": {
         "name": "answer", "schema": SCHEMA, "strict": True}}}, {}),
    ("vllm", Constraint.for_schema(SCHEMA), {}, {"guided_json": SCHEMA}),
    ("vllm", Constraint.for_labels(["A", "B"]), {}, {"guided_choice": ["A", "B"]}),
    ("vllm", Constraint.for_regex("[0-9]+"), {}, {"guided_regex": "[0-9]+"}),
    ("llamacpp", Constraint.for_labels(["A", "B"]), {}, {"grammar": 'root ::= " "? ("A" | "B")'}),
    ("llamacpp", Constraint.for_regex("[0-9]+"), {}, {"grammar": 'root ::= " "? [0-9]+'}),
    ("openai", None, {}, {}),
])
def test_server_fields(dialect, constraint, args, body):
    assert server_fields(dialect, constraint) == (args, body)
    json.dumps(server_fields(dialect, constraint))  # what the client sends is JSON
