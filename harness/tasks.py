"""Tasks: one capability to evaluate, defined in strict YAML with its data.

A task file names its family, its data (JSONL or CSV, a column mapping and
``train``/``dev``/``test`` splits given as files or by a seeded rule), the
family's specifics (for classification: ``labels``) and its primary metric.
Loading checks everything a user can get wrong and reports it as
``file:line: what is wrong``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.collection import check_gold_ids
from harness.datafiles import read_rows, scalar_text
from harness.errors import UsageError
from harness.example import Example
from harness.memo import Memo
from harness.minilm import MiniLM
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
from harness.userfiles import read_bytes
from harness.yamlio import YamlDoc, load_yaml, validate

SPLITS = ("train", "dev", "test")
GENERATION_FAMILIES = ("format", "tone", "terminology")

__all__ = ["FAMILIES", "SPLITS", "AnyTask", "ClassificationTask", "Columns", "DataSpec",
           "Example", "FormatTask", "GenerationSpec", "Split", "SplitRule", "Task",
           "TaskSpec", "TerminologyTask", "ToneTask", "load_task"]


@dataclass(frozen=True)
class Task:
    """A loaded, checked task: its spec, its examples by split and a digest."""

    spec: AnyTask
    path: Path
    examples: Mapping[str, tuple[Example, ...]]
    digest: str
    resources: Mapping[str, Any] = field(default_factory=dict)
    memo: Memo[str, Any] = field(default_factory=Memo, compare=False, repr=False)
    """What scorers compute once per loaded task (a tone task's style models and
    embeddings): it lives as long as this task object (the run)."""
    encoder: MiniLM = field(default_factory=MiniLM, compare=False, repr=False)
    """The MiniLM encoder its similarity needs (shots, dense retrieval, tone): a
    loaded config gives all its tasks one, so a run loads the model once."""

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

    @property
    def generated_ids(self) -> bool:
        """Whether example ids were generated (``file:line``): the data has no id column."""
        return self.spec.data.columns.id is None

    def split(self, name: str) -> tuple[Example, ...]:
        """Return the examples of split ``name`` (empty when it has none)."""
        return self.examples.get(name, ())


def _cell(value: Any) -> str:
    """A data cell as text: lists of tokens joined by spaces, objects as JSON."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return scalar_text(value)


def _target(row: Mapping[str, Any], cols: Columns) -> str:
    if isinstance(cols.target, list):
        obj = {c: row[c] for c in cols.target if c in row}
        return json.dumps(obj, ensure_ascii=False)
    value = row[cols.target]
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return scalar_text(value)


def generated_id(path: Path, base: Path, line: int) -> str:
    """The id of a row in a file without an id column: its file (from the task) and line.

    Unique within a task, since two rows never share a file and a line, and
    recognisably not the user's (``train/data.jsonl:3``).
    """
    return f"{Path(os.path.relpath(path, base)).as_posix()}:{line}"


def _read_file(path: Path, cols: Columns, doc: YamlDoc, loc: tuple[str, ...],
               split: str) -> list[Example]:
    if not path.exists():
        raise doc.error(f"data file not found: {path}", loc)
    out: list[Example] = []
    needed = [("input", cols.input)] + ([] if isinstance(cols.target, list)
                                        else [("target", cols.target)])
    needed += [("id", cols.id)] if cols.id else []
    for lineno, row in read_rows(path):
        for key, col in needed:
            if col not in row:
                raise doc.error(
                    f"column {col!r} (for {key}) missing in {path} line {lineno}",
                    ("data", "columns", key) if ("data", "columns", key) in doc.lines
                    else ("data", "columns"),
                    hint=f"columns there: {', '.join(map(str, row))}",
                )
        ex_id = (scalar_text(row[cols.id]) if cols.id
                 else generated_id(path, doc.path.parent, lineno))
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
                generated = task.data.columns.id is None
                raise UsageError(
                    f"duplicate id {ex.id!r} (first at {first.source}:{first.line})",
                    ex.source, ex.line, hint="the same file is named for two splits"
                    if generated else "ids must be unique across all splits")
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
    h = hashlib.sha256(read_bytes(doc.path))
    for f in sorted(set(files)):
        h.update(read_bytes(f))
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


def _labels_as_written(doc: YamlDoc) -> None:
    """Labels as the text the user wrote: ``[yes, no]`` are ``yes`` and ``no``, not booleans.

    (Labels given as a mapping are keys, which :mod:`harness.yamlio` keeps as written.)
    """
    labels = doc.data.get("labels")
    if isinstance(labels, list):
        written = [doc.text_of(("labels", i)) for i in range(len(labels))]
        doc.data["labels"] = [w if w is not None and not isinstance(v, dict | list) else v
                              for v, w in zip(labels, written, strict=True)]


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
    if fam == "classification":
        _labels_as_written(doc)
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
