"""One definition of a variant's score, its interval and its paired comparisons.

Every command that reports a number goes through here: the report
(:mod:`harness.analysis.results`, and ``compare-base`` through it),
``history`` and the nightly regression check (:mod:`harness.history`) and
``export`` (:mod:`harness.export`). The definition:

- a per-example metric (accuracy, field F1, joint, ...): the mean over an
  example's samples, then the mean over examples; unscored (NaN) samples
  are left out, and an example with no scored sample does not count;
- a corpus metric (macro-F1): each example's statistics averaged over its
  samples, then the metric of their sum over examples
  (:mod:`harness.analysis.corpus`).

With one sample per example both reduce to the usual metric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from harness.analysis.corpus import corpus_compare, corpus_interval, example_stats
from harness.analysis.paired import Interval, mean_ci
from harness.analysis.stats import Comparison, clustered, compare
from harness.scoring.base import SCORERS
from harness.scoring.metrics import TaskMetric, task_metric

__all__ = ["PRIMARY", "Samples", "TaskMetric", "compare_samples", "example_means", "interval",
           "mean_over_examples", "metric_of", "primary_of", "sample_weights", "score",
           "scorer_kind"]

# The default primary scorer of each family (a task may name another as ``metric``).
PRIMARY = {"classification": "label_accuracy", "format": "field_f1", "tone": "joint",
           "terminology": "expansion_accuracy"}


def primary_of(task_cfg: Mapping[str, Any]) -> str:
    """The primary per-example scorer of a task as recorded in a run's config."""
    family = str(task_cfg.get("family", "classification"))
    return str(task_cfg.get("primary") or PRIMARY.get(family, "label_accuracy"))


def scorer_kind(name: str) -> str:
    """``binary`` or ``continuous`` for a registered scorer (binary if unknown)."""
    return SCORERS.get(name).kind if name in SCORERS.names() else "binary"


def metric_of(task_cfg: Mapping[str, Any]) -> TaskMetric:
    """The task's declared metric as recorded in a run's config.

    A run recorded before its metric could be resolved falls back to the
    mean of its primary scorer (what such runs reported).
    """
    family, primary = str(task_cfg.get("family", "classification")), primary_of(task_cfg)
    metric = task_cfg.get("metric")
    try:
        return task_metric(family, None if metric is None else str(metric), primary)
    except ValueError:
        return TaskMetric(primary, primary)


@dataclass(frozen=True)
class Samples:
    """Every scored sample of one (task, variant, model, split), aligned.

    Attributes:
        ids: Example id of each sample (repeated for several samples).
        scores: The per-example scorer's value of each sample (NaN: unscored).
        gold: The gold answer of each sample's example.
        pred: Each sample's parsed prediction (None: invalid).
    """

    ids: Sequence[str]
    scores: Sequence[float]
    gold: Sequence[str] = ()
    pred: Sequence[str | None] = ()


def mean_over_examples(ids: Sequence[str], scores: ArrayLike) -> float | None:
    """The mean over examples of each example's mean over its samples.

    Args:
        ids: Example id of each score (repeated for several samples).
        scores: Scores aligned with ``ids``; NaNs are left out.

    Returns:
        The mean; None when no example has a scored sample (never NaN, no warning).

    Example:
        >>> mean_over_examples(["a", "a", "a", "a", "b"], [1, 0, 0, 0, 1])
        0.625
    """
    means = clustered(ids, scores)[1]
    means = means[~np.isnan(means)]
    return float(means.mean()) if means.size else None


def _stats(m: TaskMetric, labels: Sequence[str], s: Samples
           ) -> tuple[list[str], NDArray[np.float64]]:
    assert m.corpus is not None
    return example_stats(m.corpus, labels, s.ids, s.gold, s.pred)


def score(m: TaskMetric, labels: Sequence[str], s: Samples) -> float | None:
    """The variant's metric on these samples (None when nothing was scored)."""
    if m.corpus is None:
        return mean_over_examples(s.ids, s.scores)
    ids, stats = _stats(m, labels, s)
    return float(m.corpus.value(stats.sum(axis=0))) if ids else None


def interval(m: TaskMetric, labels: Sequence[str], s: Samples, rng: np.random.Generator,
             resamples: int, confidence: float) -> Interval:
    """The metric with a bootstrap interval that resamples examples (not samples)."""
    if m.corpus is None:  # 0/1 scores get Wilson's interval (mean_ci), others a bootstrap
        return mean_ci(clustered(s.ids, s.scores)[1], rng, resamples=resamples,
                       confidence=confidence)
    return corpus_interval(m.corpus, _stats(m, labels, s)[1], rng, resamples=resamples,
                           confidence=confidence)


def compare_samples(m: TaskMetric, labels: Sequence[str], base: Samples, cand: Samples,
                    rng: np.random.Generator, *, resamples: int, confidence: float,
                    min_gain: float, names: tuple[str, str]) -> Comparison:
    """Candidate minus baseline on the metric, paired on the examples both scored.

    A per-example metric goes to :func:`~harness.analysis.stats.compare`
    (McNemar or the permutation test, by the scorer's kind); a corpus metric
    to :func:`~harness.analysis.corpus.corpus_compare`.

    Raises:
        ValueError: As :func:`~harness.analysis.stats.compare` for a
            per-example metric (the id sets differ).
    """
    if m.corpus is None:
        kind = scorer_kind(m.scorer)
        # The test's own resampling (sign vectors), not the bootstrap's ``resamples``.
        return compare(base.ids, base.scores, cand.ids, cand.scores,
                       kind, rng,  # type: ignore[arg-type]
                       confidence=confidence, min_gain=min_gain, names=names)
    ids_a, a = _stats(m, labels, base)
    ids_b, b = _stats(m, labels, cand)
    row_b = {i: k for k, i in enumerate(ids_b)}
    keep = [k for k, i in enumerate(ids_a) if i in row_b]
    a, b = a[keep], b[[row_b[ids_a[k]] for k in keep]]
    return corpus_compare(m.corpus, a, b, rng, resamples=resamples, confidence=confidence,
                          min_gain=min_gain)


def example_means(ids: Sequence[str], scores: ArrayLike
                  ) -> dict[str, tuple[float | None, int]]:
    """Each example's mean over its scored samples and how many samples were scored.

    The per-example half of :func:`mean_over_examples`, for views that show
    examples one by one (the side-by-side table, exports).

    Example:
        >>> example_means(["a", "a", "b"], [1.0, 0.0, float("nan")])
        {'a': (0.5, 2), 'b': (None, 0)}
    """
    uniq, means = clustered(ids, scores)
    scored = ~np.isnan(np.asarray(scores, dtype=float).ravel())
    counts: dict[str, int] = dict.fromkeys(uniq, 0)
    for i, ok in zip(ids, scored, strict=True):
        counts[i] += int(ok)
    return {i: (None if math.isnan(m) else float(m), counts[i])
            for i, m in zip(uniq, means, strict=True)}


def sample_weights(ids: Sequence[str]) -> list[float]:
    """Each record's weight in its example: 1/k for each of the example's k records.

    Weighted by these, a mean over records is the mean over examples of the
    mean over their samples.

    Example:
        >>> sample_weights(["a", "a", "b"])
        [0.5, 0.5, 1.0]
    """
    k: dict[str, int] = {}
    for i in ids:
        k[i] = k.get(i, 0) + 1
    return [1.0 / k[i] for i in ids]
