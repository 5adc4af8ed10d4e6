"""Classification: per-example correctness, and the corpus metrics over them.

Per example the score is 1.0 when the predicted label equals the gold label
and 0.0 otherwise (an invalid label is a scored failure). Accuracy, macro-F1
(scikit-learn), the confusion matrix and the invalid-label rate are computed
over a whole (task, variant) by :func:`summarize`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from harness.scoring.base import Output, Score, scorer
from harness.tasks import Example

INVALID = "<invalid>"


@scorer("label_accuracy", family="classification", kind="binary")
def label_accuracy(example: Example, output: Output) -> Score:
    """1.0 when the predicted label is the gold label."""
    pred = output.prediction
    if pred is None:
        return Score(0.0, f"invalid label {output.text[:40]!r}; gold {example.target!r}",
                     {"invalid": True})
    ok = pred == example.target
    why = f"predicted {pred!r}, gold {example.target!r}"
    return Score(1.0 if ok else 0.0, why, {"invalid": False})


@dataclass(frozen=True)
class ClassificationSummary:
    """Corpus metrics for one (task, variant)."""

    n: int
    accuracy: float
    macro_f1: float
    invalid_rate: float
    labels: tuple[str, ...]
    confusion: tuple[tuple[int, ...], ...]
    per_label: dict[str, dict[str, float]]


def summarize(gold: Sequence[str], pred: Sequence[str | None],
              labels: Sequence[str], weights: Sequence[float] | None = None
              ) -> ClassificationSummary:
    """Accuracy, macro-F1 over the task's labels, confusion and invalid rate.

    Invalid predictions (``None``) count as wrong and appear as an extra
    ``<invalid>`` column in the confusion matrix. With no examples (a split
    that was not run, or whose every example failed) the metrics are NaN.
    ``weights`` (one per prediction; 1/k for each of an example's k samples)
    weigh the rates and per-label scores; the confusion matrix counts outputs.
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    n = len(gold)
    if n == 0:
        nan = float("nan")
        return ClassificationSummary(
            n=0, accuracy=nan, macro_f1=nan, invalid_rate=nan, labels=tuple(labels),
            confusion=tuple(tuple(0 for _ in labels) for _ in labels),
            per_label={lab: {"precision": nan, "recall": nan, "f1": nan, "support": 0}
                       for lab in labels})
    p = [x if x is not None else INVALID for x in pred]
    cols = list(labels) + ([INVALID] if INVALID in p else [])
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    acc = float(np.average([g == q for g, q in zip(gold, p, strict=True)], weights=w))
    f1 = float(f1_score(gold, p, labels=list(labels), average="macro", zero_division=0,
                        sample_weight=w))
    cm = confusion_matrix(gold, p, labels=cols)
    prec, rec, f1s, sup = precision_recall_fscore_support(
        gold, p, labels=list(labels), zero_division=0, sample_weight=w)
    per_label = {lab: {"precision": float(prec[i]), "recall": float(rec[i]),
                       "f1": float(f1s[i]), "support": round(float(sup[i]))}
                 for i, lab in enumerate(labels)}
    return ClassificationSummary(
        n=n, accuracy=acc, macro_f1=f1,
        invalid_rate=float(np.average([x is None for x in pred], weights=w)),
        labels=tuple(cols), confusion=tuple(tuple(int(v) for v in row) for row in cm),
        per_label=per_label)
