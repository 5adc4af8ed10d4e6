"""Means with intervals, and descriptive paired bootstrap differences.

All functions are pure and take a ``numpy.random.Generator``: the same
seed gives the same interval. Fewer than two values, or values that do not
vary (a bootstrap over identical values collapses to a point), give NaN
bounds with a reason, never a zero-width interval. A mean of 0/1 scores gets
Wilson's interval instead (see :func:`mean_ci`). The verdict's paired
intervals, which agree with their tests, are :func:`harness.analysis.stats.compare`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from harness.analysis.intervals import wilson_interval

_CHUNK_ELEMENTS = 1_000_000
_NO_SPREAD = "every value is the same: a bootstrap interval would have zero width"


@dataclass(frozen=True)
class Interval:
    """A point estimate with a confidence interval."""

    estimate: float
    low: float
    high: float
    n: int
    note: str = ""


@dataclass(frozen=True)
class PairedDiff:
    """Candidate minus baseline on the same examples."""

    baseline: str
    candidate: str
    delta: float
    low: float
    high: float
    n: int
    wins: int
    losses: int
    ties: int
    note: str = ""


def _bootstrap_means(values: NDArray[np.float64], rng: np.random.Generator,
                     resamples: int) -> NDArray[np.float64]:
    n = values.shape[0]
    # Chunk so memory stays bounded for large n.
    chunk = max(1, min(resamples, 5_000_000 // max(n, 1)))
    out = np.empty(resamples)
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = values[idx].mean(axis=1)
    return out


def bootstrap_mean_ci(values: ArrayLike, rng: np.random.Generator, *,
                      resamples: int = 2000, confidence: float = 0.95) -> Interval:
    """Mean of ``values`` (NaNs dropped) with a percentile bootstrap interval.

    NaN bounds with a note below 2 values or when every value is the same.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.shape[0])
    if n < 2:
        est = float(arr.mean()) if n else float("nan")
        return Interval(est, float("nan"), float("nan"), n, "fewer than 2 scored examples")
    if float(np.ptp(arr)) == 0.0:
        return Interval(float(arr[0]), float("nan"), float("nan"), n, _NO_SPREAD)
    means = _bootstrap_means(arr, rng, resamples)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(arr.mean()), float(lo), float(hi), n)


def mean_ci(values: ArrayLike, rng: np.random.Generator, *, resamples: int = 2000,
            confidence: float = 0.95) -> Interval:
    """Mean of ``values`` (NaNs dropped) with an interval that is honest at 0% and 100%.

    0/1 values (a proportion): Wilson's score interval, so 12 of 12 right is
    [0.758, 1], not [1, 1] (Wilson 1927; statsmodels ``proportion_confint``
    with ``method="wilson"``). Other values: :func:`bootstrap_mean_ci`.

    Args:
        values: Per-example scores; NaN means unscored.
        rng: Seeded generator (used by the bootstrap only).
        resamples: Bootstrap resamples.
        confidence: Interval level.

    Returns:
        The interval; NaN bounds with a note when there is none.
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.shape[0])
    if n >= 1 and np.isin(arr, (0.0, 1.0)).all():
        low, high = wilson_interval(int(arr.sum()), n, confidence)
        return Interval(float(arr.mean()), low, high, n)
    return bootstrap_mean_ci(arr, rng, resamples=resamples, confidence=confidence)


def paired_difference(ids_a: Sequence[str], a: ArrayLike, ids_b: Sequence[str],
                      b: ArrayLike, rng: np.random.Generator, *, baseline: str = "a",
                      candidate: str = "b", resamples: int = 2000,
                      confidence: float = 0.95) -> PairedDiff:
    """Mean of ``b - a`` over the same examples, with a paired bootstrap CI.

    Descriptive: the percentile bootstrap has no test beside it and covers
    poorly with few examples; decisions use
    :func:`harness.analysis.stats.compare`. Identical differences give NaN
    bounds with a note, not a zero-width interval.

    Args:
        ids_a: Example ids of the baseline's scores, aligned with ``a``.
        a: Baseline scores.
        ids_b: Example ids of the candidate's scores, aligned with ``b``.
        b: Candidate scores.
        rng: Seeded generator.
        baseline: Name of the baseline, for the result.
        candidate: Name of the candidate, for the result.
        resamples: Bootstrap resamples.
        confidence: Interval level.

    Raises:
        ValueError: The two score lists are not on the same example ids.
    """
    if list(ids_a) != list(ids_b):
        if sorted(ids_a) != sorted(ids_b):
            raise ValueError(f"{baseline} and {candidate} were scored on different examples; "
                             "a paired comparison needs the same ones")
        order = {k: i for i, k in enumerate(ids_b)}
        perm = [order[k] for k in ids_a]
        b = np.asarray(b, dtype=float)[perm]
    av = np.asarray(a, dtype=float)
    bv = np.asarray(b, dtype=float)
    keep = ~(np.isnan(av) | np.isnan(bv))
    diff = bv[keep] - av[keep]
    n = int(diff.shape[0])
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    if n < 2:
        return PairedDiff(baseline, candidate, float(diff.mean()) if n else float("nan"),
                          float("nan"), float("nan"), n, wins, losses, n - wins - losses,
                          "fewer than 2 paired examples")
    ci = bootstrap_mean_ci(diff, rng, resamples=resamples, confidence=confidence)
    return PairedDiff(baseline, candidate, ci.estimate, ci.low, ci.high, n, wins, losses,
                      n - wins - losses, ci.note)


def paired_bootstrap_many(diffs: ArrayLike, rng: np.random.Generator, resamples: int = 2000,
                          confidence: float = 0.95) -> list[Interval]:
    """Percentile bootstrap intervals of the column means of many variants at once.

    Every column is resampled with the *same* example indices (drawn in
    chunks that bound memory); a column's NaNs are left out of its means.
    One column gives the interval of ``bootstrap_mean_ci`` with the same seed.

    Args:
        diffs: Shape (examples, variants), e.g. paired differences with one
            baseline; a 1-D array is one variant.
        rng: Seeded generator.
        resamples: Bootstrap resamples.
        confidence: Interval level.

    Returns:
        One interval per column; NaN bounds with a note below 2 scored rows or
        when a column's values are all the same.
    """
    x = np.asarray(diffs, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    n, k = x.shape
    scored = ~np.isnan(x)
    filled = np.where(scored, x, 0.0)
    weights_of = scored.astype(float) if not scored.all() else None
    means = np.empty((resamples, k))
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // max(n, 1)))
    for start in range(0, resamples if n else 0, chunk):
        rows = min(resamples, start + chunk) - start
        idx = rng.integers(0, n, size=(rows, n))
        idx += np.arange(rows)[:, None] * n
        counts = np.bincount(idx.ravel(), minlength=rows * n).reshape(rows, n).astype(float)
        denom = counts @ weights_of if weights_of is not None else float(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            means[start:start + rows] = (counts @ filled) / denom
    alpha = (1 - confidence) / 2
    out = []
    for j, m in enumerate(scored.sum(axis=0)):
        est = float(x[scored[:, j], j].mean()) if m else float("nan")
        flat = m >= 2 and float(np.ptp(x[scored[:, j], j])) == 0.0
        lo, hi = (np.nanquantile(means[:, j], [alpha, 1 - alpha]) if m >= 2 and not flat
                  else (np.nan, np.nan))
        note = "fewer than 2 scored examples" if m < 2 else _NO_SPREAD if flat else ""
        out.append(Interval(est, float(lo), float(hi), int(m), note))
    return out
