"""A run's plan: every unit it will execute, decided before any model is called.

A unit is one (task, variant, model, split, example, sample). The plan holds
the config's units grouped by (task, variant, model) in the order they run,
the adapters to train first (with their estimated training time), the prompt
search's worst case (:func:`harness.search_run.search_counts`) and how many
outputs a judge rates. The runner executes these units and ``tunegate
estimate`` counts their requests, so the two cannot drift apart: nothing else
enumerates a run's work.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.backends.base import ModelSpec
from harness.config import RunConfig
from harness.estimate_training import TrainingPlan, plan_adapter
from harness.sampling import sample_split
from harness.search_run import SearchCount, search_counts
from harness.tasks import Example, Task
from harness.variants.prompt import Variant

UnitKey = tuple[str, str, str, str, str, int]
"""``(task, variant, model, split, example id, sample)``: a record's identity in a run."""


@dataclass(frozen=True)
class Unit:
    """One example's sample under one (task, variant, model): one stored record."""

    task: Task
    variant: Variant
    model: ModelSpec
    split: str
    example: Example
    sample: int

    @property
    def key(self) -> UnitKey:
        """The record's identity (what :meth:`harness.store.Store.done_keys` returns)."""
        return (self.task.name, self.variant.name, str(self.model), self.split,
                self.example.id, self.sample)


@dataclass(frozen=True)
class Group:
    """The units of one (task, variant, model), run together (a shared prompt prefix)."""

    task: Task
    variant: Variant
    model: ModelSpec
    units: tuple[Unit, ...]


def variant_group(cfg: RunConfig, task: Task, variant: Variant, model: ModelSpec,
                  examples: Sequence[tuple[str, Example]] | None = None) -> Group:
    """One group's units: each split's examples (after ``limit``) x the run's samples.

    Args:
        cfg: The run config.
        task: The task.
        variant: The variant (a config variant or a search candidate).
        model: The model spec.
        examples: ``(split, example)`` pairs instead of the config's splits
            (a search round's dev examples).
    """
    spec = cfg.spec
    if examples is None:
        examples = [(split, ex) for split in spec.splits
                    for ex in sample_split(task, split, spec.limit.get(split), spec.seed)]
    return Group(task, variant, model, tuple(
        Unit(task, variant, model, split, ex, k) for split, ex in examples
        for k in range(spec.samples)))


def model_groups(cfg: RunConfig, model: ModelSpec,
                 winners: Mapping[str, Variant] | None = None) -> Iterator[Group]:
    """The groups of one model, task by task; a task's search winner runs after its variants."""
    for task in cfg.tasks:
        won = (winners or {}).get(task.name)
        for variant in cfg.variants + ((won,) if won is not None else ()):
            if variant.applies_to(task) and cfg.runs(variant, model):
                yield variant_group(cfg, task, variant, model)


@dataclass(frozen=True)
class RunPlan:
    """Everything a run will do, before it does any of it.

    Attributes:
        config: The run config.
        groups: The config variants' groups, every model, in run order.
        trainings: Adapters trained on the spot before their group runs.
        searches: Each searched task's worst case (per model: the search runs
            on every model).
        judged: Units whose output a tone task's judge rates (one judge call each).
    """

    config: RunConfig
    groups: tuple[Group, ...]
    trainings: tuple[TrainingPlan, ...]
    searches: tuple[SearchCount, ...]
    judged: int

    def for_model(self, model: ModelSpec, winners: Mapping[str, Variant] | None = None
                  ) -> list[Group]:
        """The model's groups in run order, with each task's search winner after its own."""
        mine = [g for g in self.groups if g.model == model]
        out = []
        for task in self.config.tasks:
            out += [g for g in mine if g.task.name == task.name]
            won = (winners or {}).get(task.name)
            if won is not None and won.applies_to(task) and self.config.runs(won, model):
                out.append(variant_group(self.config, task, won, model))
        return out

    @property
    def units(self) -> int:
        """Units of the config's variants, every model."""
        return sum(len(g.units) for g in self.groups)

    @property
    def total(self) -> int:
        """Every unit the run makes at most (the search's rounds all full)."""
        search = sum(s.total for s in self.searches)
        return self.units + len(self.config.models) * search


def plan_run(cfg: RunConfig, store_root: Path) -> RunPlan:
    """The run's plan; calls no model and trains nothing.

    Raises:
        UsageError: A given adapter is missing or belongs to another base, or
            the backend cannot take the variant's adapter.
    """
    groups = tuple(g for model in cfg.models for g in model_groups(cfg, model))
    trainings = tuple(t for t in (_training(g, store_root) for g in groups) if t is not None)
    searches = tuple(search_counts(cfg))
    judged = sum(len(g.units) for g in groups if _judged(g.task)) + len(cfg.models) * sum(
        s.total for s in searches if _judged(s.task))
    return RunPlan(cfg, groups, trainings, searches, judged)


def _training(group: Group, store_root: Path) -> TrainingPlan | None:
    if group.variant.spec.kind != "lora":
        return None
    return plan_adapter(group.task, group.variant, group.model, store_root)[1]


def _judged(task: Task) -> bool:
    return getattr(task.spec, "judge", None) is not None
