"""Prompt variants: a YAML file naming a template file plus how to fill it.

A template is a Jinja2 file (sandboxed, strict about undefined names), never
Python. It sees ``task`` (name, description, family), ``labels`` (name and
description each; empty outside classification), ``shots`` (examples drawn
from ``train``: see :mod:`harness.variants.shots`), ``input`` (the example's
text), ``schema`` (a format task's JSON Schema as compact JSON, else empty)
and ``glossary`` (a terminology task's entries: ``preferred``, ``acronym``,
``forbidden``). A ``rag`` variant's template also sees ``passages``
(retrieved from the task's ``knowledge`` collection, best first, each with
``id``, ``passage_id`` and ``text``; empty for other kinds). A ``system``
prompt is a Jinja2 string that sees the same names but ``input``, ``shots``
and ``passages`` (it is the same for every example of a task).

One variant can serve every family: ``templates`` maps a family to its own
template file (used instead of ``template`` for that family), and
``families`` limits the families a variant runs on (calibration, say, only
means something for label scoring). What each option means and which
combinations are refused: :mod:`harness.variants.spec`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from harness.errors import UsageError
from harness.tasks import Example, Task
from harness.template import render_template, task_names
from harness.userfiles import read_bytes, read_text
from harness.variants.spec import TrainSpec, VariantSpec, check_levers
from harness.yamlio import YamlDoc, load_yaml, validate

__all__ = ["CONTENT_FREE", "TrainSpec", "Variant", "VariantSpec", "load_variant"]

CONTENT_FREE = ("N/A", "", "[MASK]")


@dataclass(frozen=True)
class Variant:
    """A loaded variant: spec, compiled template and a digest of both."""

    spec: VariantSpec
    path: Path
    template_text: str
    digest: str
    family_templates: Mapping[str, str] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)
    """The line of each top-level key in the variant file (for error messages)."""

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
        # answer follows "Label:" on the same line, as in the few-shot block.
        source = self.family_templates.get(task.family, self.template_text)
        names = {**task_names(task), "shots": shots, "input": input_text,
                 "passages": list(passages)}
        return render_template(source, names, self._template_path(task.family), None)

    def render_system(self, task: Task) -> str:
        """The variant's system prompt for ``task`` (empty when it has none).

        Raises:
            UsageError: The system prompt uses a name it is not given (located
                at the ``system`` key of the variant file).
        """
        if not self.spec.system:
            return ""
        return render_template(self.spec.system, task_names(task), self.path,
                       self.lines.get("system")).strip()

    def line_of(self, key: str) -> int | None:
        """The line of a top-level key in the variant file (``None`` when absent)."""
        return self.lines.get(key)

    def adapter_path(self) -> Path | None:
        """The adapter file a ``lora`` variant names, resolved, if any."""
        return (self.path.parent / self.spec.adapter).resolve() if self.spec.adapter else None

    def _template_path(self, family: str | None = None) -> Path:
        rel = {str(k): v for k, v in self.spec.templates.items()}.get(
            str(family), self.spec.template)
        return (self.path.parent / rel).resolve()


def load_variant(path: str | Path) -> Variant:
    """Load a variant file and its template.

    Raises:
        UsageError: Bad YAML, unknown keys, missing template, template syntax error.
    """
    doc = load_yaml(path)
    spec = validate(VariantSpec, doc)
    check_levers(spec, doc)
    if spec.system:
        _check_syntax(doc, spec.system, ("system",))
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
    lines = {str(loc[0]): line for loc, line in doc.lines.items() if len(loc) == 1}
    return Variant(spec=spec, path=doc.path, template_text=text, digest=digest,
                   family_templates=extra, lines=lines)


def _check_syntax(doc: YamlDoc, source: str, loc: tuple[str, ...]) -> None:
    try:
        jinja2.sandbox.SandboxedEnvironment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise doc.error(f"template syntax error in {loc[-1]}: {exc.message}", loc) from None


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
