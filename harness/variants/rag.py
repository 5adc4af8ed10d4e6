"""``rag`` variants: open the retrieval a variant needs over its task's collection.

A rag variant is a prompt variant whose template also receives the top-k
passages retrieved for each input (see :mod:`harness.rag.knowledge`); the
passages used, and recall@k/MRR when the task names gold passage ids, are
recorded in each example's ``Output.detail``.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError
from harness.rag.knowledge import Retrieval, open_retrieval
from harness.tasks import Task
from harness.variants.prompt import Variant


def check_rag(task: Task, variant: Variant) -> None:
    """A rag variant needs a task with a ``knowledge`` block.

    Raises:
        UsageError: The task names no knowledge collection.
    """
    if variant.spec.kind == "rag" and task.spec.knowledge is None:
        raise UsageError(f"rag variant {variant.name!r} needs a knowledge collection, but "
                         f"task {task.name!r} names none", task.path,
                         hint="add `knowledge: {collection: PATH}` to the task, or leave "
                         "the rag variant out of this run")


def open_for(task: Task, variant: Variant, cache_root: str | Path | None) -> Retrieval | None:
    """The retrieval of a rag variant on a task (None for other kinds).

    Raises:
        UsageError: No knowledge block, missing/empty collection, dense without MiniLM.
    """
    spec = variant.spec.retrieval
    if spec is None:
        return None
    check_rag(task, variant)
    assert task.spec.knowledge is not None
    return open_retrieval(task.spec.knowledge, task.path, spec, cache_root,
                          warn_key=f"{task.name}/{variant.name}", encoder=task.encoder)
