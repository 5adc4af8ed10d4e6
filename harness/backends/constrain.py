"""Output constraints: decode only answers of a given shape (constrained decoding).

A :class:`Constraint` travels inside a :class:`~harness.backends.base.GenRequest`
(so it is part of the response cache key) and each backend enforces it with
its serving stack's own mechanism:

- ``schema``: a JSON Schema (the format task's). llama.cpp grammars built
  from the schema (``embedded``; the llama.cpp server's ``grammar``),
  OpenAI structured outputs (``response_format`` ``json_schema``), vLLM
  guided decoding (``guided_json``), Ollama's ``format``, and
  lm-format-enforcer's ``JsonSchemaParser`` on ``hf:``.
- ``labels``: the answer is one of the label strings (classification by
  generation): a GBNF alternation, vLLM ``guided_choice``, a string ``enum``
  schema for Ollama, a regex alternation for lm-format-enforcer.
- ``regex``: the answer fully matches the format task's regex: GBNF from
  :mod:`harness.backends.regex_gbnf`, vLLM ``guided_regex``,
  lm-format-enforcer's ``RegexParser``.

A backend lists what it can enforce in ``Capabilities.constrain``; asking
for anything else is refused at start (:func:`require`), never run
unconstrained.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from harness.backends.regex_gbnf import gbnf_literal, regex_to_gbnf
from harness.errors import UsageError

Kind = Literal["schema", "labels", "regex"]
KINDS: tuple[Kind, ...] = ("schema", "labels", "regex")
WHAT = {"schema": "a JSON Schema", "labels": "the label set", "regex": "a regular expression"}


@dataclass(frozen=True)
class Constraint:
    """What the decoded answer must be.

    Attributes:
        kind: ``schema``, ``labels`` or ``regex``.
        schema: The JSON Schema as compact JSON text (``schema`` only).
        choices: The allowed answers (``labels`` only).
        pattern: A Python regular expression the answer must fully match
            (``regex`` only).
    """

    kind: Kind
    schema: str = ""
    choices: tuple[str, ...] = ()
    pattern: str = ""

    @classmethod
    def for_schema(cls, schema: dict[str, Any]) -> Constraint:
        """A schema constraint (compact JSON, for the cache key).

        Key order is kept: grammars built from a schema emit the properties in
        its order, so two orders are two different constraints.
        """
        return cls("schema", schema=json.dumps(schema, ensure_ascii=False,
                                                separators=(",", ":")))

    @classmethod
    def for_labels(cls, labels: Collection[str]) -> Constraint:
        """A label-set constraint."""
        return cls("labels", choices=tuple(labels))

    @classmethod
    def for_regex(cls, pattern: str) -> Constraint:
        """A regex constraint."""
        return cls("regex", pattern=pattern)

    @property
    def schema_dict(self) -> dict[str, Any]:
        """The schema as a dict (``schema`` constraints)."""
        value: dict[str, Any] = json.loads(self.schema) if self.schema else {}
        return value

    def as_regex(self) -> str:
        """The constraint as one regex (``labels``: an escaped alternation, optional space).

        Raises:
            ValueError: A schema constraint (it has no regex form here).
        """
        if self.kind == "labels":
            return " ?(" + "|".join(re.escape(c) for c in self.choices) + ")"
        if self.kind == "regex":
            return " ?(" + self.pattern.removeprefix("^").removesuffix("$") + ")"
        raise ValueError("a schema constraint has no regex form")


def labels_gbnf(choices: Collection[str]) -> str:
    r"""A GBNF grammar for exactly one of ``choices`` (after an optional space).

    >>> labels_gbnf(["ORCA", 'say "x"'])
    'root ::= " "? ("ORCA" | "say \\x22x\\x22")'
    """
    return 'root ::= " "? (' + " | ".join(gbnf_literal(c) for c in choices) + ")"


_SPACE_RULE = re.compile(r"^space ::= .*$", re.MULTILINE)


def expand_type_lists(node: Any) -> Any:
    """``{"type": ["string", "null"], ...}`` as ``{"anyOf": [{"type": "string", ...}, ...]}``.

    The same schema, written so that llama-cpp-python's converter keeps the
    other keywords: for a list of types it builds each alternative from the
    type alone, dropping ``pattern``, ``enum``, ``minLength`` and the rest
    (llama.cpp's own converter copies them into each alternative, as here).

    >>> expand_type_lists({"type": ["string", "null"], "pattern": "^A$"})
    {'anyOf': [{'pattern': '^A$', 'type': 'string'}, {'pattern': '^A$', 'type': 'null'}]}
    """
    if isinstance(node, list):
        return [expand_type_lists(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: expand_type_lists(v) for k, v in node.items()}
    types = out.get("type")
    if isinstance(types, list):
        rest = {k: v for k, v in out.items() if k != "type"}
        return {"anyOf": [{**rest, "type": t} for t in types]}
    return out


def schema_gbnf(schema: dict[str, Any]) -> str:
    """A GBNF grammar for JSON matching ``schema``, on one line.

    Built by llama-cpp-python's port of llama.cpp's ``json_schema_to_grammar``
    (after :func:`expand_type_lists`); keywords it does not enforce (such as
    ``minimum`` on a number) stay unchecked until scoring. Its whitespace
    rule is an optional single space (some versions allow newlines) and
    string characters exclude control characters (raw newlines are not valid
    JSON), so the answer stays on the one line a format task expects.

    Raises:
        UsageError: llama-cpp-python is not installed, or the schema uses a
            feature the converter does not support.
    """
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError:
        raise UsageError("constrain: schema needs llama-cpp-python here to build the grammar",
                         hint="pip install 'tunegate[embedded]'") from None
    try:
        grammar = str(json_schema_to_gbnf(json.dumps(expand_type_lists(schema))))
    except (ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise UsageError(f"constrain: schema: llama.cpp cannot turn this schema into a "
                         f"grammar: {exc}") from None
    # One line, and no raw control characters inside strings (JSON forbids them).
    grammar = _SPACE_RULE.sub('space ::= " "?', grammar)
    return grammar.replace('[^"\\\\]', '[^"\\\\\\x00-\\x1F]')


def to_gbnf(constraint: Constraint) -> str:
    """The constraint as a llama.cpp GBNF grammar.

    Raises:
        UsageError: A regex outside the supported subset, or a schema the
            converter cannot handle.
    """
    if constraint.kind == "labels":
        return labels_gbnf(constraint.choices)
    if constraint.kind == "regex":
        return regex_to_gbnf(constraint.pattern)
    return schema_gbnf(constraint.schema_dict)


def label_schema(choices: Collection[str]) -> dict[str, Any]:
    """A JSON Schema whose instances are exactly the label strings (a JSON string ``enum``)."""
    return {"type": "string", "enum": list(choices)}


def unwrap_label(text: str) -> str:
    """A label answered as a JSON string (``"ORCA"``) as plain text; other text unchanged.

    >>> unwrap_label(' "ORCA" '), unwrap_label("ORCA")
    ('ORCA', 'ORCA')
    """
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else text


STRUCTURED: dict[str, frozenset[str]] = {
    "openai": frozenset({"schema"}), "vllm": frozenset(KINDS), "llamacpp": frozenset(KINDS)}
"""What each OpenAI-compatible server dialect can constrain."""


def server_fields(dialect: str, constraint: Constraint | None
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """How an OpenAI-compatible request carries ``constraint``: (arguments, extra body).

    - ``openai``: structured outputs, ``response_format`` ``{"type": "json_schema",
      "json_schema": {"name", "schema", "strict": true}}`` (OpenAI API reference).
    - ``vllm``: guided decoding, ``guided_json`` / ``guided_choice`` /
      ``guided_regex`` in the body (vLLM's OpenAI-compatible server docs).
    - ``llamacpp``: ``grammar``, a GBNF string, in the body (llama.cpp server,
      both its C++ and its Python (llama-cpp-python) versions).

    Raises:
        UsageError: A regex or schema that cannot become a grammar (``llamacpp``).
    """
    if constraint is None:
        return {}, {}
    if dialect == "openai":
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": constraint.schema_dict, "strict": True}}}, {}
    if dialect == "vllm":
        key, value = {"schema": ("guided_json", constraint.schema_dict),
                      "labels": ("guided_choice", list(constraint.choices)),
                      "regex": ("guided_regex", constraint.pattern)}[constraint.kind]
        return {}, {key: value}
    return {}, {"grammar": to_gbnf(constraint)}


def require(supported: Collection[str], kind: str, backend: str,
            hint: str | None = None) -> None:
    """Refuse a constraint a backend cannot enforce (at start, never a silent fallback).

    Raises:
        UsageError: ``kind`` is not in ``supported``.
    """
    if kind in supported:
        return
    can = ", ".join(sorted(supported)) or "nothing"
    raise UsageError(f"backend {backend} cannot constrain its output to "
                     f"{WHAT.get(kind, kind)} (constrain: {kind}); it can constrain: {can}",
                     hint=hint or "remove constrain from the variant or use a backend that "
                     "can (embedded constrains all three)")
