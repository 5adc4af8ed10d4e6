"""``tunegate score``: re-score a stored run with today's scorers, with zero model calls.

Everything a scorer needs is in the store (schema version 2): each record's
input, target, example fields and output (parsed answer, retrieved passages,
a judge's rating). Only the task's own settings (its labels, schema,
glossary, style data) are read from the task file, and only when that file
is byte-for-byte the one the run used (same digest): scores of a changed
task would not be comparable, so that is refused, as is a run from a
version-1 store, whose records keep no inputs.

The new scores go into a new run (a copy of the source run's records,
trainings and prompt searches, ``rescored_from`` in its config), so the
source run stays as it was and ``tunegate report`` can show both.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import UsageError
from harness.fmt import number
from harness.runner import new_run_id
from harness.scoring.base import Output, score_all, scorer_identities
from harness.store import Record, RunRow, Store
from harness.tasks import Example, Task, load_task

__all__ = ["Rescored", "ScoreChange", "load_run_tasks", "rescore", "score_changes"]


@dataclass(frozen=True)
class ScoreChange:
    """How one scorer's scores of one (task, variant) moved.

    Attributes:
        changed: Records whose value differs (a score that appeared or
            disappeared counts); ``n`` records were compared.
        old_mean, new_mean: Means over the records that have a value (NaN: none).
        versions: ``"1 -> 2"`` when the scorer's version changed, else "".
    """

    task: str
    variant: str
    scorer: str
    changed: int
    n: int
    old_mean: float
    new_mean: float
    versions: str = ""

    def line(self) -> str:
        """``task/variant scorer: k of n changed, mean a -> b``."""
        ver = f" (version {self.versions})" if self.versions else ""
        old, new = number(self.old_mean, ".4g"), number(self.new_mean, ".4g")
        return (f"{self.task}/{self.variant} {self.scorer}{ver}: {self.changed} of {self.n} "
                f"examples changed, mean {old} -> {new}")


@dataclass(frozen=True)
class Rescored:
    """What ``tunegate score`` did: the source run, the new run and what changed."""

    source: str
    run_id: str
    records: int
    changes: tuple[ScoreChange, ...]


def load_run_tasks(store: Store, run: RunRow) -> dict[str, Task]:
    """The run's tasks loaded from their files, each checked against the run's digest.

    Raises:
        UsageError: A task file is gone, no longer loads, or changed since the run.
    """
    tasks = {}
    for entry in run.config.get("tasks", []):
        path, digest = entry.get("path"), entry.get("digest")
        if not path:
            raise UsageError(f"run {run.run_id} does not record where task "
                             f"{entry.get('name')!r} came from", store.path)
        try:
            task = load_task(path)
        except UsageError as exc:
            raise UsageError(f"task file of run {run.run_id} no longer loads: {exc.message}",
                             path, hint="restore it as it was for that run") from None
        if digest and task.digest != digest:
            raise UsageError(f"task file changed since run {run.run_id}: task "
                             f"{task.name!r} (this file or its data files) has digest "
                             f"{task.digest[:12]} now, {str(digest)[:12]} then, so its scores "
                             "would not be comparable", path,
                             hint="restore the files as they were for that run, e.g. with "
                             "git checkout, or run the config again with `tunegate run`")
        tasks[str(entry.get("name"))] = task
    return tasks


def _check_inputs(run: RunRow, records: Sequence[Record], store: Store) -> None:
    """Refuse a run without records, or one whose records keep no input (version 1)."""
    if not records:
        raise UsageError(f"run {run.run_id} has no records to re-score", store.path,
                         hint="pick another run: `tunegate history` lists them")
    if any(rec.input is None and rec.error is None for rec in records):
        raise UsageError(f"run {run.run_id} was written by store schema version 1: its "
                         "records keep no inputs, so they cannot be re-scored", store.path,
                         hint="run its config again (`tunegate run CONFIG`; cached "
                         "responses make it cheap) and re-score that run")


def _rescore_record(rec: Record, task: Task, run_id: str) -> Record:
    """The record with today's scores (and scorer identities) under ``run_id``."""
    if rec.error is not None:
        return dataclasses.replace(rec, run_id=run_id)
    example = Example(rec.example_id, rec.input or "", rec.target, rec.split,
                      rec.fields or {})
    out = rec.output
    output = Output(str(out.get("text", "")), out.get("prediction"), out.get("detail") or {},
                    rec.prompt, rec.system or "")
    return dataclasses.replace(rec, run_id=run_id, scores=score_all(task, example, output),
                               scorers=scorer_identities(task))


def rescore(store: Store, run_id: str = "latest") -> Rescored:
    """Re-score run ``run_id`` (``latest``: the newest) into a new run; no model is called.

    Raises:
        UsageError: Unknown run, no records, a version-1 run (no inputs), or a
            task file missing or changed since the run.
    """
    run = store.get_run(run_id)
    records = list(store.records(run.run_id))
    _check_inputs(run, records, store)
    tasks = load_run_tasks(store, run)
    missing = sorted({rec.task for rec in records} - set(tasks))
    if missing:
        raise UsageError(f"run {run.run_id} has records of task {missing[0]!r}, which its "
                         "config does not name", store.path)
    new_id = new_run_id(run.config_digest)
    fresh = [_rescore_record(rec, tasks[rec.task], new_id) for rec in records]
    store.create_run(new_id, run.config_path, run.config_digest,
                     {**run.config, "rescored_from": run.run_id})
    for rec in fresh:
        store.put_record(rec)
    for (task, variant), training in store.trainings(run.run_id).items():
        store.put_training(new_id, task, variant, training)
    for (task, model), search in store.searches(run.run_id).items():
        store.put_search(new_id, task, model, search)
    store.finish_run(new_id, "done", 0)
    multi = len(run.config.get("models", [])) > 1
    return Rescored(run.run_id, new_id, len(fresh), score_changes(records, fresh, multi))


def _value(scores: Mapping[str, Any], name: str) -> float | None:
    score = scores.get(name)
    value = score.get("value") if isinstance(score, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def _mean(values: Iterable[float | None]) -> float:
    got = [v for v in values if v is not None and not math.isnan(v)]
    return sum(got) / len(got) if got else math.nan


def _versions(old: Record, new: Record, name: str) -> str:
    def version(rec: Record) -> str:
        ident = (rec.scorers or {}).get(name)
        return str(ident.get("version", "?")) if isinstance(ident, Mapping) else "?"

    then, now = version(old), version(new)
    return "" if then == now else f"{then} -> {now}"


def score_changes(old: Sequence[Record], new: Sequence[Record], multi_model: bool = False
                  ) -> tuple[ScoreChange, ...]:
    """Per (task, variant, scorer): how many records' values changed, and the means.

    ``old`` and ``new`` are the same records in the same order; failed
    records (no scores) are left out. A scorer that only one side has
    counts every record as changed. Variants are named ``variant@model``
    when the run has several models.
    """
    cells: dict[tuple[str, str, str], list[tuple[float | None, float | None, bool]]] = {}
    versions: dict[tuple[str, str, str], str] = {}
    for a, b in zip(old, new, strict=True):
        if a.error is not None:
            continue
        variant = f"{a.variant}@{a.model}" if multi_model else a.variant
        for name in sorted(set(a.scores) | set(b.scores)):
            key = (a.task, variant, name)
            cells.setdefault(key, []).append((_value(a.scores, name), _value(b.scores, name),
                                              (name in a.scores) == (name in b.scores)))
            versions.setdefault(key, _versions(a, b, name) if a.scorers is not None else "")
    return tuple(
        ScoreChange(task, variant, name, sum(1 for x, y, both in pairs
                                             if not (both and _same(x, y))),
                    len(pairs), _mean(p[0] for p in pairs), _mean(p[1] for p in pairs),
                    versions[(task, variant, name)])
        for (task, variant, name), pairs in sorted(cells.items()))


def _same(x: float | None, y: float | None) -> bool:
    if x is None or y is None:
        return x is y
    return x == y or (math.isnan(x) and math.isnan(y))
