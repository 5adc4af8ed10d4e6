"""Prompt templates: what a template sees of a task, and rendering in jinja2's sandbox.

Shared by the prompt variants (:mod:`harness.variants.prompt`) and the LoRA
training data (:mod:`harness.training.data`), so the adapter is trained on
prompts rendered exactly as the variant renders them at evaluation time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from harness.errors import UsageError
from harness.tasks import ClassificationTask, Task


def task_names(task: Task) -> dict[str, Any]:
    """What every template of ``task`` sees: task, labels, schema and glossary."""
    spec = task.spec
    labels = ([{"name": k, "description": v} for k, v in spec.labels.items()]
              if isinstance(spec, ClassificationTask) else [])
    schema = task.resources.get("schema")
    glossary = [{"preferred": e.preferred, "acronym": e.acronym,
                 "forbidden": list(e.forbidden)} for e in task.resources.get("glossary", ())]
    return {"task": {"name": task.name, "description": spec.description,
                     "family": task.family},
            "labels": labels, "glossary": glossary,
            "schema": json.dumps(schema, ensure_ascii=False) if schema else ""}


def render_template(source: str, names: Mapping[str, Any], path: Path, line: int | None) -> str:
    """Render ``source`` in the sandbox, strict about undefined names.

    Raises:
        UsageError: A template error, at ``path`` and the template's line (or ``line``).
    """
    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)
    try:
        text = env.from_string(source).render(**names)
    except jinja2.TemplateError as exc:
        where = line or getattr(exc, "lineno", None) or template_line(exc)
        raise UsageError(f"template error: {exc}", path, where) from None
    return text.rstrip(" ")


def template_line(exc: BaseException) -> int | None:
    """The template line a render error came from (jinja2 names those frames ``<template>``)."""
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
