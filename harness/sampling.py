"""Which examples of a split a run uses: all of them, or a seeded, stable subset."""

from __future__ import annotations

import hashlib

from harness.tasks import Example, Task

__all__ = ["sample_split"]


def sample_split(task: Task, split: str, limit: int | None, seed: int) -> tuple[Example, ...]:
    """The split's examples, or a seeded subset of ``limit`` of them (stable order).

    The subset is the ``limit`` examples with the smallest ``sha256(seed:id)``,
    kept in file order, so it is the same on every run and machine and grows
    by adding examples when ``limit`` grows.
    """
    rows = task.split(split)
    if limit is None or limit >= len(rows):
        return rows

    def rank(ex: Example) -> str:
        return hashlib.sha256(f"{seed}:{ex.id}".encode()).hexdigest()

    keep = {ex.id for ex in sorted(rows, key=rank)[:limit]}
    return tuple(ex for ex in rows if ex.id in keep)
