"""Paired comparisons on the same examples, with bootstrap intervals.

All functions are pure and take a ``numpy.random.Generator``: the same
seed gives the same interval. Fewer than two pairs gives NaN bounds with a
reason, never a zero-width interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


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
    """Mean of ``values`` with a percentile bootstrap interval."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    n = int(arr.shape[0])
    if n < 2:
        est = float(arr.mean()) if n else float("nan")
        return Interval(est, float("nan"), float("nan"), n, "fewer than 2 scored examples")
    means = _bootstrap_means(arr, rng, resamples)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(arr.mean()), float(lo), float(hi), n)


def paired_difference(ids_a: Sequence[str], a: ArrayLike, ids_b: Sequence[str],
                      b: ArrayLike, rng: np.random.Generator, *, baseline: str = "a",
                      candidate: str = "b", resamples: int = 2000,
                      confidence: float = 0.95) -> PairedDiff:
    """Mean of ``b - a`` over the same examples, with a paired bootstrap CI.

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
                      n - wins - losses)
