"""Prompt variants: a YAML file naming a template file plus how to fill it.

A template is a Jinja2 file (sandboxed, strict about undefined names), never
Python. It sees ``task`` (name, description), ``labels`` (name and
description each), ``shots`` (examples drawn from ``train`` by seed) and
``input`` (the example's text).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UsageError
from harness.tasks import Example, Task
from harness.yamlio import load_yaml, validate

CONTENT_FREE = ("N/A", "", "[MASK]")


class VariantSpec(BaseModel):
    """What a variant file may say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["prompt"] = "prompt"
    description: str = ""
    template: str
    shots: int = Field(0, ge=0, le=64)
    shot_selection: Literal["stratified", "random"] = "stratified"
    calibrate: bool = False
    scoring: Literal["auto", "logprobs", "generate"] = "auto"


@dataclass(frozen=True)
class Variant:
    """A loaded variant: spec, compiled template and a digest of both."""

    spec: VariantSpec
    path: Path
    template_text: str
    digest: str

    @property
    def name(self) -> str:
        """The variant's name."""
        return self.spec.name

    def render(self, task: Task, input_text: str, shots: Sequence[Example]) -> str:
        """Fill the template for one input.

        Raises:
            UsageError: The template uses a name it is not given.
        """
        # The newline that ends a template file is not part of the prompt: the
        # answer follows "Queue:" on the same line, as in the few-shot block.
        env = jinja2.sandbox.SandboxedEnvironment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
            autoescape=False)
        labels = [{"name": k, "description": v} for k, v in task.spec.labels.items()]
        try:
            template = env.from_string(self.template_text)
            text = template.render(
                task={"name": task.name, "description": task.spec.description},
                labels=labels, shots=shots, input=input_text)
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            raise UsageError(f"template error: {exc}", self._template_path(), line) from None
        return text.rstrip(" ")

    def _template_path(self) -> Path:
        return (self.path.parent / self.spec.template).resolve()


def load_variant(path: str | Path) -> Variant:
    """Load a variant file and its template.

    Raises:
        UsageError: Bad YAML, unknown keys, missing template, template syntax error.
    """
    doc = load_yaml(path)
    spec = validate(VariantSpec, doc)
    tpath = (doc.path.parent / spec.template).resolve()
    if not tpath.is_file():
        raise doc.error(f"template file not found: {tpath}", ("template",))
    text = tpath.read_text(encoding="utf-8")
    try:
        jinja2.sandbox.SandboxedEnvironment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise UsageError(f"template syntax error: {exc.message}", tpath, exc.lineno) from None
    digest = hashlib.sha256(doc.path.read_bytes() + text.encode()).hexdigest()[:16]
    return Variant(spec=spec, path=doc.path, template_text=text, digest=digest)


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
