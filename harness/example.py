"""``Example``: one row of a task's data.

Its own small module so the task checks (:mod:`harness.taskcheck`) and the task
loader (:mod:`harness.tasks`, which re-exports it) share it without importing
each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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
