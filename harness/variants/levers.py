"""Checks that a variant's levers fit a task, at config load (``tunegate validate``).

``constrain: schema`` needs a format task with a JSON ``schema``,
``constrain: labels`` a classification task and ``constrain: regex`` a format
task with a ``regex``; the error names the variant file and the line of its
``constrain`` key, and how to keep the variant off other families.
"""

from __future__ import annotations

from harness.backends.constrain import Constraint
from harness.errors import UsageError
from harness.tasks import ClassificationTask, FormatTask, Task
from harness.variants.prompt import Variant

_NEEDS = {"schema": "a format task with a JSON schema",
          "labels": "a classification task (labels)",
          "regex": "a format task with a regex (format: regex)"}
_FAMILY = {"schema": "format", "labels": "classification", "regex": "format"}


def constraint_for(task: Task, variant: Variant) -> Constraint | None:
    """The output constraint ``variant`` puts on answers to ``task`` (``None``: none).

    Raises:
        UsageError: The task lacks what the constraint needs (at the variant's
            ``constrain`` line).
    """
    kind = variant.spec.constrain
    if kind is None:
        return None
    spec = task.spec
    schema = task.resources.get("schema")
    if kind == "schema" and isinstance(spec, FormatTask) and isinstance(schema, dict):
        return Constraint.for_schema(schema)
    if kind == "labels" and isinstance(spec, ClassificationTask):
        return Constraint.for_labels(list(spec.labels))
    if kind == "regex" and isinstance(spec, FormatTask) and spec.regex:
        return Constraint.for_regex(spec.regex)
    raise UsageError(f"variant {variant.name!r}: constrain: {kind} needs {_NEEDS[kind]}, "
                     f"but task {task.name!r} ({task.family}) has none", variant.path,
                     variant.line_of("constrain"),
                     hint=f"add families: [{_FAMILY[kind]}] to the variant, or give the task "
                     f"what it needs")


def check_task_levers(task: Task, variant: Variant) -> None:
    """Everything about ``variant``'s levers that can be checked without a model.

    Raises:
        UsageError: See :func:`constraint_for`.
    """
    constraint_for(task, variant)
