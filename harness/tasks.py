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
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.errors import UsageError
from harness.yamlio import YamlDoc, load_yaml, validate

SPLITS = ("train", "dev", "test")
Split = Literal["train", "dev", "test"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Which data column holds each field an example needs."""

    id: str | None = None
    input: str = "input"
    target: str = "target"


class SplitRule(_Strict):
    """Assign examples of one file to splits by a seeded hash of their id."""

    seed: int = 0
    dev: float = Field(0.15, ge=0.0, lt=1.0)
    test: float = Field(0.25, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _fractions(self) -> SplitRule:
        if self.dev + self.test >= 1.0:
            raise ValueError("dev + test fractions must leave something for train")
        return self


class DataSpec(_Strict):
    """Where the examples are and how to read them."""

    columns: Columns = Columns()
    files: dict[Split, str] | None = None
    path: str | None = None
    split_rule: SplitRule | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.files is None) == (self.path is None):
            raise ValueError("give either 'files' (one per split) or 'path' with 'split_rule'")
        if self.path is not None and self.split_rule is None:
            raise ValueError("'path' needs a 'split_rule' (seed and dev/test fractions)")
        if self.files is not None and self.split_rule is not None:
            raise ValueError("'split_rule' applies only to a single 'path'")
        if self.files is not None and "test" not in self.files:
            raise ValueError("'files' must include a 'test' split")
        return self


class GenerationSpec(_Strict):
    """Sampling settings for tasks scored on generated text."""

    max_tokens: int = Field(32, gt=0, le=4096)
    stop: list[str] = ["\n"]
    temperature: float = Field(0.0, ge=0.0, le=2.0)


class _TaskBase(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    data: DataSpec
    generation: GenerationSpec = GenerationSpec()


class ClassificationTask(_TaskBase):
    """Assign one label from a closed, possibly house-specific set."""

    family: Literal["classification"]
    labels: dict[str, str]
    metric: Literal["accuracy", "macro_f1"] = "accuracy"

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if isinstance(value, list):
            value = {str(v): "" for v in value}
        if isinstance(value, dict) and len(value) < 2:
            raise ValueError("a classification task needs at least 2 labels")
        if isinstance(value, dict):
            return {str(k): "" if v is None else str(v) for k, v in value.items()}
        return value


# The per-family specs; a union (discriminated by ``family``) as families are added.
TaskSpec = ClassificationTask
FAMILIES: dict[str, type[_TaskBase]] = {"classification": ClassificationTask}


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

    spec: ClassificationTask
    path: Path
    examples: Mapping[str, tuple[Example, ...]]
    digest: str

    @property
    def name(self) -> str:
        """The task's name."""
        return self.spec.name

    @property
    def family(self) -> str:
        """The task's family."""
        return self.spec.family

    def split(self, name: str) -> tuple[Example, ...]:
        """Return the examples of split ``name`` (empty when it has none)."""
        return self.examples.get(name, ())


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = path.suffix.lower()
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
                         hint="use .jsonl, .csv or .tsv")


def _read_file(path: Path, cols: Columns, doc: YamlDoc, loc: tuple[str, ...],
               split: str) -> list[Example]:
    if not path.is_file():
        raise doc.error(f"data file not found: {path}", loc)
    out: list[Example] = []
    for lineno, row in _rows(path):
        for key in ("input", "target") + (("id",) if cols.id else ()):
            col = getattr(cols, key)
            if col not in row:
                raise doc.error(
                    f"column {col!r} (for {key}) missing in {path} line {lineno}",
                    ("data", "columns", key) if ("data", "columns", key) in doc.lines
                    else ("data", "columns"),
                    hint=f"columns there: {', '.join(map(str, row))}",
                )
        ex_id = str(row[cols.id]) if cols.id else f"{path.stem}-{lineno}"
        value = row[cols.target]
        out.append(Example(id=ex_id, input=str(row[cols.input]),
                           target="" if value is None else str(value), split=split,
                           fields=row, source=str(path), line=lineno))
    return out


def _rule_split(ex_id: str, rule: SplitRule) -> str:
    h = hashlib.sha256(f"{rule.seed}:{ex_id}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2**64
    if u < rule.test:
        return "test"
    if u < rule.test + rule.dev:
        return "dev"
    return "train"


def _check(task: ClassificationTask, examples: dict[str, list[Example]], doc: YamlDoc) -> None:
    seen: dict[str, Example] = {}
    for split, rows in examples.items():
        for ex in rows:
            if ex.id in seen:
                first = seen[ex.id]
                raise UsageError(f"duplicate id {ex.id!r} (first at {first.source}:{first.line})",
                                 ex.source, ex.line)
            seen[ex.id] = ex
            if ex.target not in task.labels:
                raise UsageError(
                    f"label {ex.target!r} of example {ex.id!r} ({split}) is not in 'labels'",
                    ex.source, ex.line, hint=f"labels: {', '.join(task.labels)}")
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


def load_task(path: str | Path) -> Task:
    """Load and check a task file and its data.

    Raises:
        UsageError: Anything wrong with the file or its data, located.
    """
    doc = load_yaml(path)
    if "family" not in doc.data:
        raise doc.error("missing required key 'family'", (),
                        hint="one of: classification")
    fam = doc.data["family"]
    if not isinstance(fam, str) or fam not in FAMILIES:
        raise doc.error(f"unknown family {fam!r}", ("family",),
                        hint=f"one of: {', '.join(FAMILIES)}")
    spec = validate(ClassificationTask, doc)
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
    return Task(spec=spec, path=doc.path,
                examples={k: tuple(v) for k, v in examples.items()},
                digest=_digest(doc, files))
