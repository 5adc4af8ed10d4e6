"""Prompt variants: a YAML file naming a template file plus how to fill it.

A template is a Jinja2 file (sandboxed, strict about undefined names), never
Python. It sees ``task`` (name, description, family), ``labels`` (name and
description each; empty outside classification), ``shots`` (examples drawn
from ``train`` by seed), ``input`` (the example's text), ``schema`` (a
format task's JSON Schema as compact JSON, else empty) and ``glossary`` (a
terminology task's entries: ``preferred``, ``acronym``, ``forbidden``).
A ``rag`` variant's template also sees ``passages`` (retrieved from the
task's ``knowledge`` collection, best first, each with ``id``,
``passage_id`` and ``text``; empty for other kinds).

One variant can serve every family: ``templates`` maps a family to its own
template file (used instead of ``template`` for that family), and
``families`` limits the families a variant runs on (calibration, say, only
means something for label scoring).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import UsageError
from harness.rag.knowledge import RagSpec
from harness.tasks import ClassificationTask, Example, Task
from harness.userfiles import read_bytes, read_text
from harness.yamlio import YamlDoc, load_yaml, validate

CONTENT_FREE = ("N/A", "", "[MASK]")


class TrainSpec(BaseModel):
    """How a ``lora`` variant trains its adapter on the spot (cached by digest).

    Values are checked here at load; module names against the base model
    when training starts (:mod:`harness.training.modules`), located here too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(8, ge=1, le=512)
    alpha: int = Field(16, ge=1, le=8192)
    epochs: int = Field(3, ge=1, le=1000)
    lr: float = Field(2e-4, gt=0.0, le=0.1)
    seed: int = Field(0, ge=0)
    batch_size: int = Field(8, ge=1, le=4096)
    target_modules: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")], ...] = (
        Field(("q_proj", "k_proj", "v_proj", "o_proj"), min_length=1))
    early_stop_on_dev: bool = False
    max_length: int = Field(256, ge=8, le=32768)
    max_examples: int | None = Field(None, ge=1)


class VariantSpec(BaseModel):
    """What a variant file may say.

    A ``prompt`` variant is a template (plus shots and calibration). A
    ``lora`` variant is a (usually short) template plus an adapter: either
    ``adapter`` (``tunegate train``'s output directory, a GGUF LoRA file, a
    peft directory, ``ollama:NAME`` or an OpenAI ``ft:`` model id; see
    :mod:`harness.variants.lora`) or ``train`` (train one on the task's
    train split, reused by digest).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["prompt", "lora", "rag"] = "prompt"
    rag: RagSpec | None = None
    adapter: str | None = None
    train: TrainSpec | None = None
    description: str = ""
    template: str
    templates: dict[Literal["classification", "format", "tone", "terminology"], str] = {}
    families: list[Literal["classification", "format", "tone", "terminology"]] | None = None
    shots: int = Field(0, ge=0, le=64)
    shot_selection: Literal["stratified", "random"] = "stratified"
    calibrate: bool = False
    scoring: Literal["auto", "logprobs", "generate"] = "auto"

    @model_validator(mode="after")
    def _adapter_source(self) -> VariantSpec:
        if self.kind == "lora" and (self.adapter is None) == (self.train is None):
            raise ValueError("a lora variant needs exactly one of 'adapter' (a file) or "
                             "'train' (train one on the task's train split)")
        if self.kind == "prompt" and (self.adapter is not None or self.train is not None):
            raise ValueError("'adapter' and 'train' belong to kind: lora")
        if self.kind == "rag" and (self.adapter is not None or self.train is not None):
            raise ValueError("'adapter' and 'train' belong to kind: lora")
        if self.rag is not None and self.kind != "rag":
            raise ValueError("'rag' (retriever, k, budget_tokens) belongs to kind: rag")
        return self

    @property
    def retrieval(self) -> RagSpec | None:
        """Retrieval settings of a ``rag`` variant (defaults when it names none)."""
        return (self.rag or RagSpec()) if self.kind == "rag" else None


@dataclass(frozen=True)
class Variant:
    """A loaded variant: spec, compiled template and a digest of both."""

    spec: VariantSpec
    path: Path
    template_text: str
    digest: str
    family_templates: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The variant's name."""
        return self.spec.name

    def applies_to(self, task: Task) -> bool:
        """Whether this variant runs on ``task``.

        Its ``families`` (if any) must include the task's, and a rag variant
        needs a task with a ``knowledge`` collection (rag applies where it can).
        """
        if self.spec.kind == "rag" and getattr(task.spec, "knowledge", None) is None:
            return False
        return self.spec.families is None or task.family in self.spec.families

    def render(self, task: Task, input_text: str, shots: Sequence[Example],
               passages: Sequence[Mapping[str, Any]] = ()) -> str:
        """Fill the template for one input (``passages``: a rag variant's retrieved ones).

        Raises:
            UsageError: The template uses a name it is not given.
        """
        # The newline that ends a template file is not part of the prompt: the
        # answer follows "Queue:" on the same line, as in the few-shot block.
        env = jinja2.sandbox.SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
            autoescape=False)
        spec = task.spec
        labels = ([{"name": k, "description": v} for k, v in spec.labels.items()]
                  if isinstance(spec, ClassificationTask) else [])
        schema = task.resources.get("schema")
        glossary = [{"preferred": e.preferred, "acronym": e.acronym,
                     "forbidden": list(e.forbidden)} for e in task.resources.get("glossary", ())]
        source = self.family_templates.get(task.family, self.template_text)
        try:
            template = env.from_string(source)
            text = template.render(
                task={"name": task.name, "description": spec.description,
                      "family": task.family},
                labels=labels, shots=shots, input=input_text, glossary=glossary,
                passages=list(passages),
                schema=json.dumps(schema, ensure_ascii=False) if schema else "")
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None) or _template_line(exc)
            raise UsageError(f"template error: {exc}", self._template_path(task.family),
                             line) from None
        return text.rstrip(" ")

    def adapter_path(self) -> Path | None:
        """The adapter file a ``lora`` variant names, resolved, if any."""
        return (self.path.parent / self.spec.adapter).resolve() if self.spec.adapter else None

    def _template_path(self, family: str | None = None) -> Path:
        rel = {str(k): v for k, v in self.spec.templates.items()}.get(
            str(family), self.spec.template)
        return (self.path.parent / rel).resolve()


def _template_line(exc: BaseException) -> int | None:
    """The template line a render error came from (jinja2 names those frames ``<template>``)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_variant(path: str | Path) -> Variant:
    """Load a variant file and its template.

    Raises:
        UsageError: Bad YAML, unknown keys, missing template, template syntax error.
    """
    doc = load_yaml(path)
    spec = validate(VariantSpec, doc)
    text = _read_template(doc, spec.template, ("template",))
    extra = {str(fam): _read_template(doc, rel, ("templates", fam))
             for fam, rel in spec.templates.items()}
    remote = spec.adapter is not None and spec.adapter.startswith(
        ("ollama:", "ft:", "served:"))
    if spec.adapter is not None and not remote and not (doc.path.parent / spec.adapter).exists():
        raise doc.error(f"adapter not found: {(doc.path.parent / spec.adapter).resolve()}",
                        ("adapter",), hint="train one with `tunegate train TASK`")
    blob = read_bytes(doc.path) + text.encode() + "".join(
        extra[f] for f in sorted(extra)).encode()
    digest = hashlib.sha256(blob).hexdigest()[:16]
    return Variant(spec=spec, path=doc.path, template_text=text, digest=digest,
                   family_templates=extra)


def _read_template(doc: YamlDoc, rel: str, loc: tuple[str, ...]) -> str:
    tpath = (doc.path.parent / rel).resolve()
    if not tpath.exists():
        raise doc.error(f"template file not found: {tpath}", loc)
    text = read_text(tpath, "template")
    try:
        jinja2.sandbox.SandboxedEnvironment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"template syntax error: {exc.message}", tpath, exc.lineno) from None
    return text


def select_shots(task: Task, variant: Variant, seed: int) -> tuple[Example, ...]:
    """Draw the variant's few-shot examples from ``train`` (never dev or test).

    The draw depends only on the seed, the task and the variant name, so the
    same shots serve every example (and the prompt prefix can be cached).

    Raises:
        UsageError: The variant wants shots but the task has no train split.
    """
    k = variant.spec.shots
    if k == 0:
        return ()
    train = list(task.split("train"))
    if not train:
        raise UsageError(f"variant {variant.name!r} needs {k} shots but task "
                         f"{task.name!r} has no train split", variant.path)
    rng = random.Random(f"{seed}:{task.name}:{variant.name}")
    if variant.spec.shot_selection == "random":
        return tuple(rng.sample(train, min(k, len(train))))
    by_label: dict[str, list[Example]] = {}
    for ex in train:
        by_label.setdefault(ex.target, []).append(ex)
    pools = [rng.sample(v, len(v)) for _, v in sorted(by_label.items())]
    rng.shuffle(pools)
    picked: list[Example] = []
    while len(picked) < min(k, len(train)):
        for pool in pools:
            if pool and len(picked) < k:
                picked.append(pool.pop())
    rng.shuffle(picked)
    return tuple(picked)
