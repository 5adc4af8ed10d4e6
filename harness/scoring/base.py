"""Scorers: per-example scores with an explanation, registered by name.

A scorer is a plain callable ``(example, output) -> Score``. Everything about
it lives in one frozen :class:`ScorerInfo`; its name is what the store
records, so ``tunegate score`` can rebuild it from the store alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from harness.registry import Registry
from harness.tasks import Example, Task


@dataclass(frozen=True)
class Output:
    """What a variant produced for one example.

    Attributes:
        text: The raw model output (generated text, or the chosen label).
        prediction: The parsed answer (a label for classification), or ``None``
            when the output could not be parsed: a scored failure.
        detail: Backend-specific evidence (label log-probabilities, a RAG
            variant's retrieved ``passages``, ...).
        prompt: The rendered prompt as sent (None when not known, e.g. an
            output imported from lm-eval); the store keeps it by digest.
        system: The system prompt sent as a message ("" when none or prepended).
    """

    text: str
    prediction: str | None
    detail: Mapping[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    system: str = ""


@dataclass(frozen=True)
class Score:
    """One example's score. ``value`` is a float; NaN means unscored."""

    value: float
    explanation: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def unscored(cls, reason: str) -> Score:
        """A score that could not be computed (distinct from a 0.0 failure)."""
        return cls(math.nan, reason)

    def to_json(self) -> dict[str, Any]:
        """JSON form for the store (NaN as ``None``)."""
        return {"value": None if math.isnan(self.value) else self.value,
                "explanation": self.explanation, "detail": dict(self.detail)}


ScorerFn = Callable[[Example, Output], Score]
TaskScorerFn = Callable[[Example, Output, Task], Score]
UndefinedFn = Callable[[Example, Task], str | None]


@dataclass(frozen=True)
class ScorerInfo:
    """A registered scorer and what its scores mean.

    ``kind`` picks the paired test: McNemar for ``binary``, a paired
    permutation test for ``continuous``. ``task_fn`` is set for scorers that
    need the task (its schema, glossary, style classifier); ``applies`` says
    whether the scorer runs for a given task at all, and ``requires`` says in
    words what it needs (for the message when it does not). ``undefined``
    gives the reason an example cannot be scored whatever the output (e.g.
    its reference uses no glossary term), else None; the scorer returns
    :meth:`Score.unscored` with that reason, and loading refuses a task whose
    metric is undefined on every test example
    (:func:`harness.scoring.metrics.check_metric`).

    ``version`` names the scorer's behaviour: bump it whenever a change can
    move a score, so a stored score says which behaviour produced it (and
    ``tunegate score`` can say which scores a fix changed). ``args`` lists
    the task settings the scorer reads (attribute paths of the task spec,
    e.g. ``normalize`` or ``data.columns.references``): with the name and
    version they are the scorer's identity (:meth:`identity`), stored with
    each record.
    """

    name: str
    family: str
    fn: ScorerFn
    higher_is_better: bool = True
    kind: Literal["binary", "continuous"] = "binary"
    task_fn: TaskScorerFn | None = None
    applies: Callable[[Task], bool] | None = None
    requires: str = ""
    undefined: UndefinedFn | None = None
    version: str = "1"
    args: tuple[str, ...] = ()

    def identity(self, task: Task) -> dict[str, Any]:
        """``{"args": {setting: value as JSON}, "version": ...}`` of this scorer on ``task``."""
        return {"args": {path: _setting(task.spec, path) for path in self.args},
                "version": self.version}

    def score(self, task: Task, example: Example, output: Output) -> Score:
        """Score one example of ``task``."""
        if self.task_fn is not None:
            return self.task_fn(example, output, task)
        return self.fn(example, output)


def _setting(spec: Any, path: str) -> Any:
    """The task setting at ``path`` (dotted attributes), as JSON."""
    value = spec
    for part in path.split("."):
        value = getattr(value, part, None)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [v.model_dump(mode="json", by_alias=True) if isinstance(v, BaseModel) else v
                for v in value]
    return value


SCORERS: Registry[ScorerInfo] = Registry("scorer")


def scorer(name: str, family: str, *, higher_is_better: bool = True,
           kind: Literal["binary", "continuous"] = "binary", version: str = "1",
           args: tuple[str, ...] = ()) -> Callable[[ScorerFn], ScorerFn]:
    """Register ``fn`` as scorer ``name`` for tasks of ``family``.

    ``version`` and ``args`` are as in :class:`ScorerInfo`.
    """

    def deco(fn: ScorerFn) -> ScorerFn:
        SCORERS.add(name, ScorerInfo(name, family, fn, higher_is_better, kind,
                                     version=version, args=args))
        return fn

    return deco


def task_scorer(name: str, family: str, *, higher_is_better: bool = True,
                kind: Literal["binary", "continuous"] = "binary",
                applies: Callable[[Task], bool] | None = None, requires: str = "",
                undefined: UndefinedFn | None = None, version: str = "1",
                args: tuple[str, ...] = ()) -> Callable[[TaskScorerFn], TaskScorerFn]:
    """Register ``fn(example, output, task)`` as scorer ``name`` for ``family``.

    ``applies``/``requires``, ``undefined``, ``version`` and ``args`` are as
    in :class:`ScorerInfo`.
    """

    def deco(fn: TaskScorerFn) -> TaskScorerFn:
        def no_task(example: Example, output: Output) -> Score:
            raise TypeError(f"scorer {name!r} needs the task: call ScorerInfo.score")

        SCORERS.add(name, ScorerInfo(name, family, no_task, higher_is_better, kind, fn,
                                     applies, requires, undefined, version, args))
        return fn

    return deco


def scorers_for(family: str) -> list[ScorerInfo]:
    """All scorers registered for ``family``, by name."""
    return [info for n in SCORERS.names() if (info := SCORERS.get(n)).family == family]


def scorers_for_task(task: Task) -> list[ScorerInfo]:
    """The scorers that run on ``task``: its family's, less those that do not apply."""
    return [info for info in scorers_for(task.family)
            if info.applies is None or info.applies(task)]


def score_all(task: Task, example: Example, output: Output) -> dict[str, dict[str, Any]]:
    """Every applicable scorer's score of one output, as stored (JSON form)."""
    return {info.name: info.score(task, example, output).to_json()
            for info in scorers_for_task(task)}


def scorer_identities(task: Task) -> dict[str, dict[str, Any]]:
    """Name -> :meth:`ScorerInfo.identity` of every scorer :func:`score_all` runs on ``task``."""
    return {info.name: info.identity(task) for info in scorers_for_task(task)}
