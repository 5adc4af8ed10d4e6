"""A task's declared metric: how it is computed, and whether the task's data define it.

A task's ``metric`` is one of two kinds, and every command computes it the
same way:

- the mean of a per-example scorer: the mean over an example's samples,
  then the mean over examples. Classification's ``accuracy`` is the mean
  of ``label_accuracy``; in the other families the metric names its scorer.
- a corpus metric (:mod:`harness.scoring.corpus`, e.g. ``macro_f1``):
  computed over the whole set from additive per-example statistics, so
  that paired comparisons resample examples and recompute it.

:func:`check_metric` runs when a task is validated or a run is loaded,
before any model call: a metric that is neither kind, one whose scorer does
not apply to the task, or one that is undefined on every test (or dev)
example whatever the model answers is a usage error at the task file's
``metric`` line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.collection import gold_ids
from harness.scoring.base import SCORERS, ScorerInfo
from harness.scoring.corpus import CORPUS_METRICS, CorpusMetric
from harness.tasks import Example, Task
from harness.yamlio import YamlDoc, load_yaml

MEAN_OF = {"accuracy": "label_accuracy"}
"""Metric names that are the mean of a differently named per-example scorer."""


@dataclass(frozen=True)
class TaskMetric:
    """How a task's metric is computed.

    Attributes:
        name: The metric as the task declares it (``macro_f1``, ``field_f1``).
        scorer: The per-example scorer: the metric is its mean when
            ``corpus`` is None; wins, losses and ties count by it either way.
        corpus: The corpus metric, when the metric is computed over the set.
    """

    name: str
    scorer: str
    corpus: CorpusMetric | None = None


def task_metric(family: str, metric: str | None, primary: str) -> TaskMetric:
    """Resolve a declared metric against the task's primary per-example scorer.

    Args:
        family: The task family.
        metric: The declared metric; None means the primary scorer's mean.
        primary: The task's primary per-example scorer.

    Raises:
        ValueError: The metric is neither a registered corpus metric of the
            family nor the mean of ``primary``.
    """
    name = metric or primary
    if name in CORPUS_METRICS and CORPUS_METRICS.get(name).family == family:
        corpus = CORPUS_METRICS.get(name)
        return TaskMetric(name, corpus.scorer, corpus)
    if name == primary or MEAN_OF.get(name) == primary:
        return TaskMetric(name, primary)
    raise ValueError(f"metric {name} cannot be compared example by example: it is not the "
                     f"mean of a per-example score and no paired resampling is defined for it")


def _undefined(info: ScorerInfo, task: Task, rows: Sequence[Example]) -> str | None:
    """The first reason, when ``info`` is undefined on every one of ``rows``."""
    if info.undefined is None or not rows:
        return None
    reasons = [info.undefined(ex, task) for ex in rows]
    return reasons[0] if all(reasons) else None


def _check_retrieval(task: Task, doc: YamlDoc) -> None:
    k = task.spec.knowledge
    if k is None or k.gold_column is None:
        return
    test = task.split("test")
    if test and not any(gold_ids(ex.fields, k.gold_column) for ex in test):
        raise doc.error(f"recall@k and MRR are undefined on every test example ({len(test)}): "
                        f"no test row names a gold passage in column {k.gold_column!r}",
                        ("knowledge", "gold_column"),
                        hint="fill the gold passage ids, or drop gold_column")


def check_metric(task: Task) -> None:
    """Refuse a task whose metric cannot be computed and compared on its data.

    Checks, in order: the metric is a per-example mean or a corpus metric;
    its scorer applies to the task; it is defined on at least one test and
    one dev example whatever the model answers (e.g. required-term recall
    needs a reference that uses a glossary term); and, with a knowledge
    ``gold_column``, some test row names a gold passage (recall@k).

    Raises:
        UsageError: Located at the task file's ``metric`` line (else its
            ``family`` line), saying why; exit 2.
    """
    doc = load_yaml(task.path)
    loc = ("metric",) if ("metric",) in doc.lines else ("family",)
    declared = getattr(task.spec, "metric", None)
    try:
        metric = task_metric(task.family, declared, task.primary_scorer)
    except ValueError as exc:
        raise doc.error(str(exc), loc, hint="choose a metric docs/tasks.md lists for "
                        f"the {task.family} family") from None
    if metric.corpus is None:
        info = SCORERS.get(metric.scorer)
        if info.applies is not None and not info.applies(task):
            raise doc.error(f"metric {metric.name} needs {info.requires or 'more'}; "
                            "this task has none, so no example could be scored", loc)
        for split in ("test", "dev"):
            rows = task.split(split)
            why = _undefined(info, task, rows)
            if why is not None:
                raise doc.error(f"metric {metric.name} is undefined on every {split} example "
                                f"({len(rows)}): {why}", loc,
                                hint="no answer could be scored; fix the data or choose "
                                     "another metric")
    _check_retrieval(task, doc)
