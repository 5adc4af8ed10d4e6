"""Tasks: one capability to evaluate, defined in strict YAML with its data.

A task file names its family, its data (JSONL or CSV, a column mapping and
``train``/``dev``/``test`` splits given as files or by a seeded rule), the
family's specifics (for classification: ``labels``) and its primary metric.
Loading checks everything a user can get wrong and reports it as
``file:line: what is wrong``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.rag.knowledge import check_gold_ids
from harness.taskcheck import check_family
from harness.taskspec import (
    FAMILIES,
    AnyTask,
    ClassificationTask,
    Columns,
    DataSpec,
    FormatTask,
    GenerationSpec,
    Split,
    SplitRule,
    TaskSpec,
    TerminologyTask,
    ToneTask,
)
from harness.yamlio import YamlDoc, load_yaml, validate

SPLITS = ("train", "dev", "test")
GENERATION_FAMILIES = ("format", "tone", "terminology")

__all__ = ["FAMILIES", "SPLITS", "AnyTask", "ClassificationTask", "Columns", "DataSpec",
           "Example", "FormatTask", "GenerationSpec", "Split", "SplitRule", "Task",
           "TaskSpec", "TerminologyTask", "ToneTask", "load_task"]


@dataclass(frozen=True)
class Example:
    """One row of a task's data.

    Attributes:
        id: Unique within the task.
        input: The text the model sees.
        target: The reference answer (a label for classification).
        split: Which split it belongs to.
        fields: Every column of the row, for templates that want more.
        line: Where the row is in its file (for error messages).
    """

    id: str
    input: str
    target: str
    split: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    line: int = 0


@dataclass(frozen=True)
class Task:
    """A loaded, checked task: its spec, its examples by split and a digest."""

    spec: AnyTask
    path: Path
    examples: Mapping[str, tuple[Example, ...]]
    digest: str
    resources: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The task's name."""
        return self.spec.name

    @property
    def family(self) -> str:
        """The task's family."""
        return self.spec.family

    @property
    def primary_scorer(self) -> str:
        """The scorer whose per-example values decide comparisons."""
        return self.spec.primary_scorer

    def split(self, name: str) -> tuple[Example, ...]:
        """Return the examples of split ``name`` (empty when it has none)."""
        return self.examples.get(name, ())


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
    if suffix == ".json" and _starts_with_object(path):
        suffix = ".jsonl"  # a .json file of one object per line is JSON Lines
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"invalid JSON at column {exc.colno}: "
                                     f"{exc.msg.removesuffix(' at')}", path, lineno) from None
                if not isinstance(row, dict):
                    raise UsageError("each JSONL line must be an object", path, lineno)
                yield lineno, row
    elif suffix == ".json":
        yield from _json_array_rows(path)
    elif suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            for row in reader:
                # line_num is the row's last physical line; step back over quoted newlines.
                if None in row.values():
                    raise UsageError("row has fewer fields than the header", path,
                                     reader.line_num)
                inner = sum(str(v).count("\n") for v in row.values())
                yield reader.line_num - inner, dict(row)
    else:
        raise UsageError(f"unsupported data format {suffix!r}", path,
                         hint="use .jsonl, .json, .csv or .tsv")


def _starts_with_object(path: Path) -> bool:
    with path.open(encoding="utf-8") as fh:
        head = fh.read(4096).lstrip()
    return head.startswith("{")


def _json_array_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a ``.json`` file holding one array of objects, each with its line."""
    text = path.read_text(encoding="utf-8")
    dec = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text.startswith("[", i):
        raise UsageError("a .json data file must hold one array of objects (or one object "
                         "per line)", path, 1)
    i += 1
    while True:
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return
        line = text.count("\n", 0, i) + 1
        try:
            row, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise UsageError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
        if not isinstance(row, dict):
            raise UsageError("each item of the array must be an object", path, line)
        yield line, row


def _cell(value: Any) -> str:
    """A data cell as text: lists of tokens joined by spaces, objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _target(row: Mapping[str, Any], cols: Columns) -> str:
    if isinstance(cols.target, list):
        obj = {c: row[c] for c in cols.target if c in row}
        return json.dumps(obj, ensure_ascii=False)
    value = row[cols.target]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _read_file(path: Path, cols: Columns, doc: YamlDoc, loc: tuple[str, ...],
               split: str) -> list[Example]:
    if not path.is_file():
        raise doc.error(f"data file not found: {path}", loc)
    out: list[Example] = []
    needed = [("input", cols.input)] + ([] if isinstance(cols.target, list)
                                        else [("target", cols.target)])
    needed += [("id", cols.id)] if cols.id else []
    for lineno, row in _rows(path):
        for key, col in needed:
            if col not in row:
                raise doc.error(
                    f"column {col!r} (for {key}) missing in {path} line {lineno}",
                    ("data", "columns", key) if ("data", "columns", key) in doc.lines
                    else ("data", "columns"),
                    hint=f"columns there: {', '.join(map(str, row))}",
                )
        ex_id = str(row[cols.id]) if cols.id else f"{path.stem}-{lineno}"
        out.append(Example(id=ex_id, input=_cell(row[cols.input]), target=_target(row, cols),
                           split=split, fields=row, source=str(path), line=lineno))
    return out


def _rule_split(ex_id: str, rule: SplitRule) -> str:
    h = hashlib.sha256(f"{rule.seed}:{ex_id}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    if u < rule.test:
        return "test"
    if u < rule.test + rule.dev:
        return "dev"
    return "train"


def _check(task: AnyTask, examples: dict[str, list[Example]], doc: YamlDoc) -> None:
    seen: dict[str, Example] = {}
    for split, rows in examples.items():
        for ex in rows:
            if ex.id in seen:
                first = seen[ex.id]
                raise UsageError(f"duplicate id {ex.id!r} (first at {first.source}:{first.line})",
                                 ex.source, ex.line)
            seen[ex.id] = ex
            if isinstance(task, ClassificationTask) and ex.target not in task.labels:
                raise UsageError(
                    f"label {ex.target!r} of example {ex.id!r} ({split}) is not in 'labels'",
                    ex.source, ex.line, hint=f"labels: {', '.join(task.labels)}")
            if not isinstance(task, ClassificationTask) and not ex.target.strip():
                raise UsageError(
                    f"example {ex.id!r} ({split}) has no reference: its target column "
                    f"{task.data.columns.target!r} is empty", ex.source, ex.line,
                    hint="every example of a generation task needs a reference output")
    for split in ("test",) + tuple(s for s in SPLITS if s != "test"):
        declared = task.data.files is not None and split in task.data.files
        if (declared or split == "test" or task.data.split_rule) and not examples.get(split):
            loc = ("data", "files", split) if declared else ("data",)
            raise doc.error(f"split {split!r} is empty", loc)


def _digest(doc: YamlDoc, files: list[Path]) -> str:
    h = hashlib.sha256(doc.path.read_bytes())
    for f in sorted(set(files)):
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _check_knowledge(spec: AnyTask, examples: Mapping[str, list[Example]],
                     doc: YamlDoc) -> list[Path]:
    """Check the knowledge collection exists and the gold ids in the data name its passages.

    Returns:
        The collection's files, so that the task digest covers its content.
    """
    k = spec.knowledge
    if k is None:
        return []
    where = (doc.path.parent / k.collection).resolve()
    if not where.exists():
        raise doc.error(f"knowledge collection not found: "
                        f"{(doc.path.parent / k.collection).resolve()}",
                        ("knowledge", "collection"),
                        hint="a folder of .txt/.md files or a .jsonl/.csv of passages")
    rows = [ex for exs in examples.values() for ex in exs]
    if k.gold_column and rows and not any(k.gold_column in ex.fields for ex in rows):
        raise doc.error(f"gold_column {k.gold_column!r} is in no data row",
                        ("knowledge", "gold_column"))
    check_gold_ids(k, doc.path, rows)
    return sorted(p for p in where.rglob("*") if p.is_file()) if where.is_dir() else [where]


def load_task(path: str | Path) -> Task:
    """Load and check a task file and its data.

    Raises:
        UsageError: Anything wrong with the file or its data, located.
    """
    doc = load_yaml(path)
    if "family" not in doc.data:
        raise doc.error("missing required key 'family'", (),
                        hint=f"one of: {', '.join(FAMILIES)}")
    fam = doc.data["family"]
    if not isinstance(fam, str) or fam not in FAMILIES:
        raise doc.error(f"unknown family {fam!r}", ("family",),
                        hint=f"one of: {', '.join(FAMILIES)}")
    spec: AnyTask = validate(FAMILIES[fam], doc)  # type: ignore[assignment]
    base = doc.path.parent
    cols = spec.data.columns
    examples: dict[str, list[Example]] = {}
    files: list[Path] = []
    if spec.data.files is not None:
        for split, rel in spec.data.files.items():
            p = (base / rel).resolve()
            files.append(p)
            examples[split] = _read_file(p, cols, doc, ("data", "files", split), split)
    else:
        assert spec.data.path is not None and spec.data.split_rule is not None
        p = (base / spec.data.path).resolve()
        files.append(p)
        rule = spec.data.split_rule
        for ex in _read_file(p, cols, doc, ("data", "path"), "all"):
            assigned = _rule_split(ex.id, rule)
            examples.setdefault(assigned, []).append(
                Example(ex.id, ex.input, ex.target, assigned, ex.fields, ex.source, ex.line))
    _check(spec, examples, doc)
    knowledge_files = _check_knowledge(spec, examples, doc)
    resources, extra_files = check_family(spec, examples, doc)
    return Task(spec=spec, path=doc.path,
                examples={k: tuple(v) for k, v in examples.items()},
                digest=_digest(doc, files + extra_files + knowledge_files),
                resources=resources)
