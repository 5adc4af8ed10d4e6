"""What a task file may say: one strict pydantic spec per family.

The four families share a base (name, description, data, generation) and
add their own fields: ``labels`` for classification, a JSON ``schema`` or a
``regex`` for format, a ``style`` (and optional ``judge``) for tone, a
``glossary`` for terminology. :data:`TaskSpec` is their union, discriminated
by ``family``. Each family names its default primary metric (a scorer).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Split = Literal["train", "dev", "test"]
Retriever = Literal["bm25", "dense", "hybrid", "random"]


class ChunkSpec(BaseModel):
    """How a collection is cut into chunks.

    Args:
        size: The most words in one chunk.
        overlap: Words of trailing sentences repeated at the start of the next chunk.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(200, ge=8, le=100_000)
    overlap: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _overlap_smaller(self) -> ChunkSpec:
        if self.overlap >= self.size:
            raise ValueError("chunk overlap must be smaller than chunk size")
        return self


class KnowledgeSpec(BaseModel):
    """A task's ``knowledge`` block.

    Attributes:
        collection: Folder of .txt/.md files or a .jsonl/.csv of passages,
            relative to the task file.
        id_column: Passage id column of a JSONL/CSV collection.
        text_column: Passage text column of a JSONL/CSV collection.
        chunking: Chunk size and overlap in words.
        retriever: The default retriever of this task's rag variants.
        gold_column: A data column with each example's gold passage ids
            (a list, or ids separated by ``;``), for recall@k and MRR.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    collection: str
    id_column: str = "id"
    text_column: str = "text"
    chunking: ChunkSpec = ChunkSpec()
    retriever: Retriever = "bm25"
    gold_column: str | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Columns(_Strict):
    """Which data column holds each field an example needs.

    ``target`` may list several columns: the target is then a JSON object of
    those columns (absent ones left out), e.g. ``[intents, slots]``.
    ``references`` names extra reference columns (empty cells are skipped).
    """

    id: str | None = None
    input: str = "input"
    target: str | list[str] = "target"
    references: list[str] = []


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


class Normalize(_Strict):
    """How answers are normalised before they are compared.

    Attributes:
        case: Compare case-insensitively.
        whitespace: Collapse runs of whitespace and strip the ends.
        punctuation: Drop punctuation (``.,;:!?'"`` and the like).
        numbers: Compare numbers by value (``"2.0"`` equals ``2``).
    """

    case: bool = True
    whitespace: bool = True
    punctuation: bool = False
    numbers: bool = True


class _TaskBase(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    data: DataSpec
    generation: GenerationSpec = GenerationSpec()
    knowledge: KnowledgeSpec | None = None

    @property
    def primary_scorer(self) -> str:
        """The scorer whose per-example values decide comparisons."""
        raise NotImplementedError


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

    @property
    def primary_scorer(self) -> str:
        """Per example, both metrics rest on label correctness."""
        return "label_accuracy"


FORMAT_METRICS = ("field_f1", "exact_match", "schema_valid", "parse_lenient", "parse_strict",
                  "regex_match")


class FormatTask(_TaskBase):
    """Produce output in a strict format: a JSON object (with a schema) or a line regex."""

    family: Literal["format"]
    format: Literal["json", "regex"] = "json"
    json_schema: str | dict[str, Any] | None = Field(None, alias="schema")
    regex: str | None = None
    normalize: Normalize = Normalize()
    metric: Literal["field_f1", "exact_match", "schema_valid", "parse_lenient",
                    "parse_strict", "regex_match"] = "field_f1"
    generation: GenerationSpec = GenerationSpec(max_tokens=192, stop=["\n"])

    @property
    def primary_scorer(self) -> str:
        """The metric names the scorer."""
        return self.metric

    @model_validator(mode="after")
    def _format_fields(self) -> FormatTask:
        if self.format == "regex" and not self.regex:
            raise ValueError("format: regex needs a 'regex' (with named groups for fields)")
        if self.format == "json" and self.regex:
            raise ValueError("'regex' belongs to format: regex")
        if self.format == "regex" and self.json_schema is not None:
            raise ValueError("'schema' belongs to format: json")
        if self.format == "json" and self.metric == "regex_match":
            raise ValueError("metric regex_match needs format: regex")
        if self.format == "regex" and self.metric in ("schema_valid", "parse_strict",
                                                      "parse_lenient"):
            raise ValueError(f"metric {self.metric} needs format: json")
        return self


class StyleSpec(_Strict):
    """The labelled tone examples the style classifier learns from.

    Without ``examples`` they come from the train split: every input labelled
    ``source`` and every target labelled ``target``. At most ``max_per_style``
    examples of each style (a seeded sample) train the classifier.
    """

    examples: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    target: str = "target"
    source: str = "source"
    heldout: float = Field(0.2, gt=0.0, lt=0.5)
    max_per_style: int = Field(5000, ge=10)
    seed: int = 0


class JudgeSpec(_Strict):
    """An optional LLM judge: a rubric scored 1..scale by any backend."""

    model: str
    rubric: str
    scale: int = Field(5, ge=2, le=10)
    max_tokens: int = Field(8, gt=0, le=256)


class ToneTask(_TaskBase):
    """Rewrite text into a target style (house tone) while keeping its content."""

    family: Literal["tone"]
    style: StyleSpec = StyleSpec()
    judge: JudgeSpec | None = None
    metric: Literal["joint", "style_accuracy", "similarity_source", "similarity_reference",
                    "chrf_reference", "fluency", "judge_rubric"] = "joint"
    generation: GenerationSpec = GenerationSpec(max_tokens=96, stop=["\n"])

    @property
    def primary_scorer(self) -> str:
        """The metric names the scorer."""
        return self.metric

    @model_validator(mode="after")
    def _judge_metric(self) -> ToneTask:
        if self.metric == "judge_rubric" and self.judge is None:
            raise ValueError("metric judge_rubric needs a 'judge'")
        return self


class GlossaryEntry(_Strict):
    """A preferred ``term`` with its ``forbidden`` variants, or ``acronym`` -> ``expansion``."""

    term: str | None = None
    acronym: str | None = None
    expansion: str | None = None
    forbidden: list[str] = []

    @model_validator(mode="after")
    def _shape(self) -> GlossaryEntry:
        if self.term is not None and (self.acronym or self.expansion):
            raise ValueError("an entry is either 'term' (+ 'forbidden') or 'acronym' + "
                             "'expansion'")
        if self.term is None and not (self.acronym and self.expansion):
            raise ValueError("an acronym entry needs both 'acronym' and 'expansion'")
        if self.term is not None and not self.term.strip():
            raise ValueError("'term' is empty")
        return self

    @property
    def preferred(self) -> str:
        """The form that must be used: the term, or the acronym's expansion."""
        return self.term if self.term is not None else str(self.expansion)


class GlossaryFile(_Strict):
    """A glossary kept in its own YAML file (``glossary: path`` in the task)."""

    glossary: list[GlossaryEntry]


class TerminologyTask(_TaskBase):
    """Use the house terms: expand acronyms exactly, prefer terms over forbidden variants."""

    family: Literal["terminology"]
    mode: Literal["expansion", "terms"] = "expansion"
    glossary: list[GlossaryEntry] | str = []
    normalize: Normalize = Normalize(numbers=False)
    metric: Literal["expansion_accuracy", "required_term_recall"] | None = None
    generation: GenerationSpec = GenerationSpec(max_tokens=24, stop=["\n"])

    @model_validator(mode="after")
    def _mode(self) -> TerminologyTask:
        if self.mode == "terms" and self.glossary == []:
            raise ValueError("mode: terms needs a non-empty 'glossary'")
        if self.mode == "terms" and self.metric == "expansion_accuracy":
            raise ValueError("metric expansion_accuracy needs mode: expansion")
        return self

    @property
    def primary_scorer(self) -> str:
        """The metric, else expansion accuracy (expansion) or required-term recall."""
        if self.metric is not None:
            return self.metric
        return "expansion_accuracy" if self.mode == "expansion" else "required_term_recall"


TaskSpec = Annotated[ClassificationTask | FormatTask | ToneTask | TerminologyTask,
                     Field(discriminator="family")]
AnyTask = ClassificationTask | FormatTask | ToneTask | TerminologyTask
FAMILIES: dict[str, type[_TaskBase]] = {
    "classification": ClassificationTask, "format": FormatTask, "tone": ToneTask,
    "terminology": TerminologyTask}
