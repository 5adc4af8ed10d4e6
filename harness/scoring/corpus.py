"""Corpus-level metrics: computed over a whole set of examples, not averaged per example.

Macro-F1 is not a mean of per-example scores: it is a function of the
per-label counts (true positives, false positives, false negatives) summed
over the set. Each corpus metric is therefore given as

- ``stats(gold, pred, labels)``: additive per-example sufficient statistics,
  shape (examples, m), and
- ``value(sums)``: the metric from their sums, shape (..., m) -> (...),

so that a paired bootstrap (resample examples, sum their statistics) and a
paired permutation test (swap two variants' statistics example by example)
recompute the metric exactly on every resample (Koehn 2004, "Statistical
significance tests for machine translation evaluation"; Dror et al. 2018,
"The hitchhiker's guide to testing statistical significance in NLP").
A metric that cannot be written this way cannot be compared by resampling
examples, and a task naming it is refused at load
(:func:`harness.scoring.metrics.check_metric`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.registry import Registry

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class CorpusMetric:
    """A metric of a whole set of examples, decomposed into per-example statistics.

    Attributes:
        name: The name a task file uses (``metric: macro_f1``).
        family: The task family it belongs to.
        scorer: The per-example scorer beside it (wins, losses and ties count by it).
        stats: ``(gold, pred, labels) -> (n, m)`` additive statistics per example.
        value: ``(..., m) -> (...)``: the metric from summed statistics.
    """

    name: str
    family: str
    scorer: str
    stats: Callable[[Sequence[str], Sequence[str | None], Sequence[str]], Floats]
    value: Callable[[Floats], Floats]


CORPUS_METRICS: Registry[CorpusMetric] = Registry("corpus metric")


def label_counts(gold: Sequence[str], pred: Sequence[str | None],
                 labels: Sequence[str]) -> Floats:
    """Per example and label: true positive, false positive, false negative (0/1).

    Args:
        gold: Gold label of each example.
        pred: Predicted label of each example; None (invalid) or a label not
            in ``labels`` is a false negative of the gold label and a false
            positive of no label.
        labels: The task's labels, in order.

    Returns:
        Shape (n, 3 * len(labels)): columns ``tp, fp, fn`` for the first
        label, then the second, and so on.

    Raises:
        ValueError: ``gold`` and ``pred`` differ in length.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    g = np.asarray([[x == lab for lab in labels] for x in gold], dtype=float)
    p = np.asarray([[x == lab for lab in labels] for x in pred], dtype=float)
    g, p = g.reshape(len(gold), len(labels)), p.reshape(len(pred), len(labels))
    out = np.empty((len(gold), 3 * len(labels)))
    out[:, 0::3] = g * p
    out[:, 1::3] = (1 - g) * p
    out[:, 2::3] = g * (1 - p)
    return out


def macro_f1_value(sums: Floats) -> Floats:
    """Macro-F1 from summed :func:`label_counts`: the mean over labels of 2tp / (2tp+fp+fn).

    A label with no gold, no prediction (0 / 0) scores 0, as scikit-learn's
    ``f1_score(..., labels=labels, average="macro", zero_division=0)`` does.
    """
    s = np.asarray(sums, dtype=float)
    tp, fp, fn = s[..., 0::3], s[..., 1::3], s[..., 2::3]
    denom = 2 * tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)
    return np.asarray(f1.mean(axis=-1), dtype=float)


CORPUS_METRICS.add("macro_f1", CorpusMetric("macro_f1", "classification", "label_accuracy",
                                            label_counts, macro_f1_value))
