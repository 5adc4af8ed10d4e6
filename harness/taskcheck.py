"""Family-specific checks run when a task loads, located as ``file:line``.

Every gold answer (and tone reference) of a generation task is read by the
parser that reads a model's output (:func:`harness.answers.read_gold`): one
it would not read whole, no output could equal, so it is a task error.
Classification: no two labels that a generated answer could not tell apart
(:func:`harness.textnorm.label_collisions`). Format: the JSON Schema itself
is checked first (draft 2020-12; an invalid schema is a task error), every
``$ref`` in it resolved (:mod:`harness.schemas`), then every gold object
must parse strictly and validate; a regex must compile and match every
(one-line) gold answer. Tone: the style classifier needs at least two
classes with examples each. Terminology: no duplicate or conflicting
glossary entries, compared under the task's own ``normalize`` (as the
scorers compare). What the checks
load (the schema and its validator, the style examples) is returned as the
task's resources.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.answers import read_gold
from harness.datafiles import read_rows, scalar_text
from harness.errors import UsageError
from harness.example import Example
from harness.modelspec import parse_spec
from harness.schemas import LoadedSchema, load_schema
from harness.taskspec import (
    AnyTask,
    ClassificationTask,
    FormatTask,
    GlossaryEntry,
    GlossaryFile,
    TerminologyTask,
    ToneTask,
)
from harness.textnorm import label_collisions, norm_text
from harness.userfiles import read_json
from harness.yamlio import YamlDoc, load_yaml, validate

MIN_PER_STYLE = 4


def check_family(spec: AnyTask, examples: Mapping[str, Sequence[Example]], doc: YamlDoc
                 ) -> tuple[dict[str, Any], list[Path]]:
    """Run the family's checks; return its resources and the extra files it read.

    Raises:
        UsageError: A family-specific mistake, located in the task or data file.
    """
    if isinstance(spec, FormatTask):
        return _check_format(spec, examples, doc)
    if isinstance(spec, ToneTask):
        resources, files = _check_tone(spec, examples, doc)
    elif isinstance(spec, TerminologyTask):
        resources, files = _check_glossary(spec, doc)
    else:
        if isinstance(spec, ClassificationTask):
            _check_labels(spec, doc)
        return {}, []
    _check_golds(spec, resources, examples)
    return resources, files


def _check_labels(spec: ClassificationTask, doc: YamlDoc) -> None:
    """Refuse labels a generated answer could not tell apart (``Pro`` and ``PRO``)."""
    labels = list(spec.labels)
    listed = isinstance(doc.data.get("labels"), list)
    for first, later in label_collisions(labels):
        loc = ("labels", later if listed else labels[later])
        if first == later:
            raise doc.error(f"label {labels[later]!r} is only punctuation or whitespace",
                            loc, hint="an answer is matched without surrounding "
                            "punctuation, so this label would match an empty answer")
        raise doc.error(f"labels {labels[first]!r} and {labels[later]!r} differ only in case "
                        "or surrounding punctuation", loc,
                        hint="a generated answer is matched case-insensitively without "
                        "surrounding punctuation, so it could not tell them apart; merge "
                        "or rename one")


def _load_schema(spec: FormatTask, doc: YamlDoc) -> tuple[dict[str, Any] | None, Path, bool]:
    """The schema as written, the file it is in (the task's when inline), and whether inline."""
    raw = spec.json_schema
    if raw is None or isinstance(raw, dict):
        return raw, doc.path, True
    path = (doc.path.parent / raw).resolve()
    if not path.exists():
        raise doc.error(f"schema file not found: {path}", ("schema",))
    loaded = read_json(path, "schema")
    if not isinstance(loaded, dict):
        raise UsageError("a JSON Schema must be an object", path, 1)
    return loaded, path, False


def _read_gold(spec: AnyTask, resources: Mapping[str, Any], ex: Example, what: str,
               text: str) -> str:
    parsed = read_gold(spec, resources, text)
    if parsed.prediction is None:
        raise UsageError(f"{what} of example {ex.id!r} {parsed.detail['error']}",
                         ex.source, ex.line, hint=parsed.detail.get("hint"))
    return parsed.prediction


def _check_golds(spec: AnyTask, resources: Mapping[str, Any],
                 examples: Mapping[str, Sequence[Example]], validator: Any = None) -> None:
    """Read every gold answer (and tone reference) with the output parser, whole.

    Raises:
        UsageError: A gold answer no output could equal, or one the schema
            refuses, at its data line.
    """
    refs = spec.data.columns.references if isinstance(spec, ToneTask) else []
    for rows in examples.values():
        for ex in rows:
            gold = _read_gold(spec, resources, ex, "gold output", ex.target)
            for col in refs:
                value = ex.fields.get(col)
                if value is not None and str(value).strip():
                    _read_gold(spec, resources, ex, f"reference {col!r}", str(value))
            err = None if validator is None else next(
                iter(validator.iter_errors(json.loads(gold))), None)
            if err is not None:
                where = "/".join(str(p) for p in err.absolute_path) or "(root)"
                raise UsageError(f"gold object of example {ex.id!r} does not match the "
                                 f"schema at {where}: {err.message}", ex.source, ex.line)


def _check_format(spec: FormatTask, examples: Mapping[str, Sequence[Example]], doc: YamlDoc
                  ) -> tuple[dict[str, Any], list[Path]]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if spec.format == "regex":
        assert spec.regex is not None
        try:
            pattern = re.compile(spec.regex)
        except re.error as exc:
            raise doc.error(f"regex does not compile: {exc}", ("regex",)) from None
        _check_golds(spec, {"regex": pattern}, examples)
        return {"regex": pattern}, []
    schema, where, inline = _load_schema(spec, doc)
    loaded: LoadedSchema | None = None
    if schema is not None:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            at = "/".join(str(p) for p in exc.path) or "(root)"
            raise doc.error(f"invalid JSON Schema at {at}: {exc.message}",
                            ("schema",), hint="the schema must be valid draft 2020-12") from None
        loaded = load_schema(schema, where.resolve().as_uri(), where,
                             doc.line_of(("schema",)) if inline else None)
    validator = loaded.validator if loaded is not None else None
    _check_golds(spec, {}, examples, validator)
    files = [] if inline or loaded is None else [where, *loaded.files]
    return {"schema": schema, "validator": validator}, files


def _style_examples(spec: ToneTask, examples: Mapping[str, Sequence[Example]], doc: YamlDoc
                    ) -> tuple[list[tuple[str, str]], list[Path]]:
    st = spec.style
    if st.examples is None:
        pairs = [(ex.input, st.source) for ex in examples.get("train", ())]
        pairs += [(ex.target, st.target) for ex in examples.get("train", ())]
        return pairs, []
    path = (doc.path.parent / st.examples).resolve()
    if not path.exists():
        raise doc.error(f"style examples file not found: {path}", ("style", "examples"))
    out = []
    for lineno, row in read_rows(path, "style examples file"):
        for col in (st.text_column, st.label_column):
            if col not in row:
                raise UsageError(f"column {col!r} missing in style examples", path, lineno,
                                 hint=f"columns there: {', '.join(map(str, row))}")
        out.append((scalar_text(row[st.text_column]), scalar_text(row[st.label_column])))
    return out, [path]


def _check_tone(spec: ToneTask, examples: Mapping[str, Sequence[Example]], doc: YamlDoc
                ) -> tuple[dict[str, Any], list[Path]]:
    pairs, files = _style_examples(spec, examples, doc)
    counts: dict[str, int] = {}
    for _, label in pairs:
        counts[label] = counts.get(label, 0) + 1
    loc = ("style", "examples") if spec.style.examples else ("style",)
    if len(counts) < 2:
        only = ", ".join(repr(c) for c in counts) or "none"
        raise doc.error(f"a tone task needs labelled examples of at least 2 styles; found "
                        f"only {only}", loc,
                        hint="the style classifier must learn the target style against others")
    if spec.style.target not in counts:
        raise doc.error(f"no style example is labelled with the target style "
                        f"{spec.style.target!r}", ("style",),
                        hint=f"labels there: {', '.join(sorted(counts))}")
    thin = sorted(c for c, n in counts.items() if n < MIN_PER_STYLE)
    if thin:
        raise doc.error(f"style {thin[0]!r} has fewer than {MIN_PER_STYLE} examples", loc)
    if spec.judge is not None:
        try:
            parse_spec(spec.judge.model)
        except UsageError as exc:
            raise doc.error(exc.message, ("judge", "model"), hint=exc.hint) from None
    return {"style_examples": tuple(pairs)}, files


def _glossary_entries(spec: TerminologyTask, doc: YamlDoc
                      ) -> tuple[Sequence[GlossaryEntry], YamlDoc, list[Path]]:
    """The entries, the document they are in (task or glossary file) and its files."""
    if not isinstance(spec.glossary, str):
        return spec.glossary, doc, []
    path = (doc.path.parent / spec.glossary).resolve()
    if not path.exists():
        raise doc.error(f"glossary file not found: {path}", ("glossary",))
    gdoc = load_yaml(path)
    return validate(GlossaryFile, gdoc).glossary, gdoc, [path]


def _check_glossary(spec: TerminologyTask, doc: YamlDoc
                    ) -> tuple[dict[str, Any], list[Path]]:
    entries, doc, files = _glossary_entries(spec, doc)

    def key(text: str) -> str:  # the scorers' comparison, so a check matches what is scored
        return norm_text(text, spec.normalize)

    preferred: dict[str, int] = {}
    forbidden: dict[str, int] = {}
    for i, entry in enumerate(entries):
        line = doc.line_of(("glossary", i))
        head = entry.acronym if entry.acronym is not None else entry.preferred
        if not key(entry.preferred) or not key(head):
            raise UsageError(f"glossary entry {head!r} is empty once normalised as the task "
                             "says", doc.path, line, hint="it could never be matched")
        if key(head) in preferred:
            first = entries[preferred[key(head)]]
            what = "conflicting" if first.preferred != entry.preferred else "duplicate"
            raise UsageError(f"{what} glossary entry for {head!r} (first at line "
                             f"{doc.line_of(('glossary', preferred[key(head)]))})", doc.path,
                             line, hint="each term or acronym may appear once (compared "
                             "under the task's normalize settings)")
        preferred[key(head)] = i
        if entry.acronym is not None:
            preferred.setdefault(key(entry.preferred), i)
        for bad in entry.forbidden:
            if key(bad) == key(entry.preferred):
                raise UsageError(f"glossary entry {head!r} forbids its own preferred form",
                                 doc.path, line, hint=f"{bad!r} and {entry.preferred!r} are "
                                 "the same under the task's normalize settings")
            forbidden.setdefault(key(bad), i)
    for norm, i in forbidden.items():
        j = preferred.get(norm)
        if j is not None and j != i:
            raise UsageError(f"conflicting glossary: {norm!r} is forbidden by the entry at "
                             f"line {doc.line_of(('glossary', i))} but preferred at line "
                             f"{doc.line_of(('glossary', j))}",
                             doc.path, doc.line_of(("glossary", i)))
    if spec.mode == "terms" and not entries:
        raise doc.error("mode: terms needs a non-empty glossary", ("glossary",))
    return {"glossary": tuple(entries)}, files
