"""Paired tests, the intervals that agree with them, and power, for paired scores.

Pure, no I/O; every randomised function takes a seeded ``numpy.random.Generator``.
Fewer than two pairs, or differences with no spread, give NaN (with a
reason), never a zero-width interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from harness.analysis.intervals import mcnemar_interval, planning_sd, sign_flip_interval
from harness.analysis.paired import paired_bootstrap_many

__all__ = ["Comparison", "binary_diff_sd", "clustered", "compare", "holm", "mcnemar_exact",
           "minimum_detectable_effect", "n_needed", "paired_bootstrap_many",
           "paired_permutation_test"]

ScoreKind = Literal["binary", "continuous"]
_INTERVAL = {"mcnemar_exact": "melded exact, Fay & Lumbard 2021",
             "paired_permutation": "sign-flip test inversion",
             "paired_bootstrap": "paired bootstrap percentile, Koehn 2004"}
TestName = Literal["mcnemar_exact", "paired_permutation", "paired_bootstrap"]
_Floats = NDArray[np.float64]

_EXACT_MAX_N = 16
_CHUNK_ELEMENTS = 1_000_000


@dataclass(frozen=True)
class Comparison:
    """Candidate minus baseline on the same examples; fields as described in :func:`compare`."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    test: TestName
    n: int
    mde: float
    n_needed: int | None
    note: str = ""
    confidence: float = 0.95
    interval: str = ""


def _pairs(a: ArrayLike, b: ArrayLike) -> tuple[_Floats, _Floats]:
    av = np.asarray(a, dtype=float).ravel()
    bv = np.asarray(b, dtype=float).ravel()
    if av.shape != bv.shape:
        raise ValueError(f"paired scores differ in length: {av.shape[0]} vs {bv.shape[0]}")
    keep = ~(np.isnan(av) | np.isnan(bv))
    return av[keep], bv[keep]


def mcnemar_exact(a: ArrayLike, b: ArrayLike) -> float:
    """Two-sided exact McNemar p-value: a binomial test (p = 1/2) on discordant pairs.

    Args:
        a: Baseline 0/1 scores; pairs with a NaN are dropped.
        b: Candidate 0/1 scores on the same examples, in the same order.

    Returns:
        The p-value; 1.0 when no pair is discordant; NaN for fewer than 2 pairs.

    Raises:
        ValueError: Lengths differ, or a score is neither 0 nor 1.
    """
    av, bv = _pairs(a, b)
    if not (np.isin(av, (0.0, 1.0)).all() and np.isin(bv, (0.0, 1.0)).all()):
        raise ValueError("McNemar's test needs 0/1 scores")
    if av.shape[0] < 2:
        return float("nan")
    only_a, only_b = int((av > bv).sum()), int((bv > av).sum())
    if only_a + only_b == 0:
        return 1.0
    res = sps.binomtest(min(only_a, only_b), only_a + only_b, 0.5, alternative="two-sided")
    return float(min(1.0, res.pvalue))


def _flip_sums(d: _Floats, rng: np.random.Generator, rows: int) -> _Floats:
    row_bytes = (d.shape[0] + 7) // 8
    raw = np.frombuffer(rng.bytes(rows * row_bytes), dtype=np.uint8).reshape(rows, row_bytes)
    flips = np.unpackbits(raw, axis=1)[:, : d.shape[0]]
    return np.asarray(d.sum() - 2.0 * (flips @ d), dtype=float)


def paired_permutation_test(a: ArrayLike, b: ArrayLike, rng: np.random.Generator,
                            resamples: int = 10_000) -> float:
    """Two-sided paired sign-flip permutation test on the mean of ``b - a``.

    With at most 16 pairs all ``2**n`` sign vectors are enumerated (exact;
    ``rng`` unused); otherwise ``resamples`` random ones give
    ``(count + 1) / (resamples + 1)``, never zero.

    Args:
        a: Baseline scores; pairs with a NaN are dropped.
        b: Candidate scores on the same examples, in the same order.
        rng: Seeded generator.
        resamples: Random sign vectors when enumeration is too large.

    Returns:
        The p-value; NaN for fewer than 2 pairs.

    Raises:
        ValueError: Lengths differ or ``resamples`` is below 1.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    av, bv = _pairs(a, b)
    d = bv - av
    n = d.shape[0]
    if n < 2:
        return float("nan")
    observed = abs(float(d.sum()))
    tol = 1e-10 * max(float(np.abs(d).sum()), 1e-300)
    if n <= _EXACT_MAX_N:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        sums = (1.0 - 2.0 * bits) @ d
        return float(np.mean(np.abs(sums) >= observed - tol))
    chunk = max(1, min(resamples, _CHUNK_ELEMENTS // n))
    count = 0
    for start in range(0, resamples, chunk):
        rows = min(resamples, start + chunk) - start
        count += int((np.abs(_flip_sums(d, rng, rows)) >= observed - tol).sum())
    return (count + 1) / (resamples + 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order, monotone and capped at 1.

    Args:
        p_values: Raw p-values, one per hypothesis (task). NaNs pass through
            untouched and do not count as hypotheses.

    Raises:
        ValueError: A p-value lies outside [0, 1].

    Example:
        >>> [round(p, 4) for p in holm([0.01, 0.04, 0.03, 0.005])]
        [0.03, 0.06, 0.06, 0.02]
    """
    p = np.asarray(p_values, dtype=float)
    out = p.copy()
    finite = np.flatnonzero(~np.isnan(p))
    if ((p[finite] < 0) | (p[finite] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    m = finite.shape[0]
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return [float(x) for x in out]


def clustered(ids: Sequence[str], scores: ArrayLike) -> tuple[list[str], _Floats]:
    """Collapse several samples per example (temperature > 0, epochs) to one mean per id.

    Args:
        ids: Example id of each score.
        scores: Scores aligned with ``ids``; NaNs are ignored (all-NaN gives NaN).

    Returns:
        The unique ids in first-seen order and the mean score of each.

    Raises:
        ValueError: ``ids`` and ``scores`` differ in length.
    """
    s = np.asarray(scores, dtype=float).ravel()
    if len(ids) != s.shape[0]:
        raise ValueError(f"{len(ids)} ids but {s.shape[0]} scores")
    first: dict[str, int] = {}
    group = np.fromiter((first.setdefault(i, len(first)) for i in ids), dtype=np.intp,
                        count=len(ids))
    ok = ~np.isnan(s)
    sums = np.bincount(group[ok], weights=s[ok], minlength=len(first))
    counts = np.bincount(group[ok], minlength=len(first))
    return list(first), sums / np.where(counts > 0, counts, np.nan)


def _z_sum(diff_sd: float, alpha: float, power: float) -> float:
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")
    if diff_sd < 0:
        raise ValueError(f"diff_sd must not be negative, got {diff_sd}")
    return float(sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power))


def minimum_detectable_effect(diff_sd: float, n: int, alpha: float = 0.05,
                              power: float = 0.8) -> float:
    """Smallest mean difference a paired two-sided test detects with this power.

    Normal approximation: ``(z[1 - alpha/2] + z[power]) * diff_sd / sqrt(n)``.

    Args:
        diff_sd: Sd of the per-example differences (0/1 scores: :func:`binary_diff_sd`).
        n: Paired examples.
        alpha: Two-sided significance level.
        power: Probability of detecting a true effect of that size.

    Returns:
        The effect; NaN when ``n < 2`` or ``diff_sd`` is not positive (never zero).

    Raises:
        ValueError: ``alpha`` or ``power`` outside (0, 1), or a negative ``diff_sd``.
    """
    z = _z_sum(diff_sd, alpha, power)
    if n < 2 or not math.isfinite(diff_sd) or diff_sd == 0:
        return float("nan")
    return z * diff_sd / math.sqrt(n)


def n_needed(diff_sd: float, min_gain: float, alpha: float = 0.05,
             power: float = 0.8) -> int | None:
    """Paired examples needed to detect a mean difference of ``min_gain`` (at least 2).

    ``ceil(((z[1 - alpha/2] + z[power]) * diff_sd / min_gain) ** 2)``, the
    inverse of :func:`minimum_detectable_effect` (same arguments and errors);
    ``min_gain``'s sign is ignored. None when ``diff_sd`` is not positive or
    ``min_gain`` is zero or not finite.
    """
    z = _z_sum(diff_sd, alpha, power)
    if not (math.isfinite(diff_sd) and math.isfinite(min_gain)) or diff_sd == 0 or min_gain == 0:
        return None
    # The relative 1e-12 keeps a float rounding of an exact integer from adding one.
    return max(2, math.ceil((z * diff_sd / abs(min_gain)) ** 2 * (1 - 1e-12)))


def binary_diff_sd(diffs: ArrayLike) -> float:
    """A conservative sd for differences of paired 0/1 scores, never zero.

    The square root of the discordance rate (the variance under no effect,
    at least the observed one), the rate floored at ``3 / n`` (rule of three:
    the upper bound when no pair is discordant) and capped at 1. NaN for
    fewer than 2 differences. See :func:`harness.analysis.intervals.planning_sd`.

    Args:
        diffs: Per-example differences, each -1, 0 or 1; NaNs are ignored.
    """
    return planning_sd(diffs, "binary")[0]


def _few(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:3])
    return shown + (", ..." if len(ids) > 3 else "")


def _align(ids_a: list[str], ids_b: list[str], b: _Floats, names: tuple[str, str]) -> _Floats:
    """``b`` reordered to follow ``ids_a``; raises when the id sets differ."""
    if ids_a == ids_b:
        return b
    set_a, set_b = set(ids_a), set(ids_b)
    if set_a != set_b:
        only_a = [i for i in ids_a if i not in set_b]
        only_b = [i for i in ids_b if i not in set_a]
        raise ValueError(
            f"{names[0]} and {names[1]} were not scored on the same examples: "
            f"{len(only_a)} only in {names[0]} ({_few(only_a)}), "
            f"{len(only_b)} only in {names[1]} ({_few(only_b)})")
    pos = {k: i for i, k in enumerate(ids_b)}
    return b[[pos[k] for k in ids_a]]


def _paired(ids_a: Sequence[str], a: ArrayLike, ids_b: Sequence[str], b: ArrayLike,
            kind: ScoreKind, names: tuple[str, str]) -> tuple[_Floats, _Floats, bool, list[str]]:
    """Per-example scores of both sides, aligned on ``a``'s ids; repeated?; notes."""
    if kind not in ("binary", "continuous"):
        raise ValueError(f"kind must be 'binary' or 'continuous', got {kind!r}")
    for scores, name in ((a, names[0]), (b, names[1])) if kind == "binary" else ():
        s = np.asarray(scores, dtype=float).ravel()
        bad = s[~(np.isnan(s) | np.isin(s, (0.0, 1.0)))]
        if bad.shape[0]:
            raise ValueError(f"{name}: binary scores must be 0 or 1, found {bad[0]!r}")
    ua, ma = clustered(ids_a, a)
    ub, mb = clustered(ids_b, b)
    mb = _align(ua, ub, mb, names)
    repeated = len(ua) < len(ids_a) or len(ub) < len(ids_b)
    notes = []
    if repeated:
        notes.append("repeated samples averaged per example"
                     + ("; a permutation test replaces McNemar" if kind == "binary" else ""))
    keep = ~(np.isnan(ma) | np.isnan(mb))
    if not keep.all():
        notes.append(f"{int((~keep).sum())} examples not scored on both sides left out")
    return ma[keep], mb[keep], repeated, notes


def compare(ids_a: Sequence[str], a: ArrayLike, ids_b: Sequence[str], b: ArrayLike,
            kind: ScoreKind, rng: np.random.Generator, *, resamples: int = 10_000,
            confidence: float = 0.95, min_gain: float = 0.0,
            names: tuple[str, str] = ("a", "b")) -> Comparison:
    """Compare candidate ``b`` with baseline ``a`` on the same examples: test and interval.

    Repeated ids (several samples per example) are averaged per example
    first; ``b`` is reordered to ``a``'s ids and examples unscored (NaN) on
    either side are left out. The interval is the inversion of the test, so
    it excludes 0 exactly when the p-value is below ``1 - confidence``:

    - one 0/1 score per example: exact McNemar with Fay & Lumbard's melded
      interval (:func:`~harness.analysis.intervals.mcnemar_interval`),
      which stays wide with few or no discordant pairs;
    - otherwise: the paired sign-flip permutation test with the interval of
      the shifts it does not reject
      (:func:`~harness.analysis.intervals.sign_flip_interval`), clipped to
      [-1, 1] when every score lies in [0, 1]. Differences with no spread
      have neither (NaN, with a note).

    The p-value is not multiplicity-adjusted (see :func:`holm`; pass the
    Holm level as ``confidence``); ``n`` counts examples, not samples;
    ``mde`` is at ``n`` with power 0.8 and ``n_needed`` (a total) is the
    size at which the interval would separate the observed gain from
    ``min_gain``, that distance floored at a quarter of the MDE (so at most
    about 16 times ``n``), both from
    :func:`~harness.analysis.intervals.planning_sd` (never 0; the note says
    when a planning value stands in for an observed sd of 0); ``note`` says
    why a field is NaN or None and what was adjusted.

    Args:
        ids_a: Example id of each baseline score.
        a: Baseline scores.
        ids_b: Example id of each candidate score.
        b: Candidate scores.
        kind: ``binary`` (0/1 scores) or ``continuous``.
        rng: Seeded generator (random sign vectors beyond 16 pairs).
        resamples: Random sign vectors for the permutation test and interval.
        confidence: Interval level; the test's alpha is ``1 - confidence``.
        min_gain: The gain the decision is about, for ``n_needed``.
        names: Names of the baseline and the candidate, for error messages.

    Raises:
        ValueError: The id sets differ (both sides' extra ids are named),
            lengths differ, ``kind`` is unknown or a binary score is not 0/1.
    """
    av, bv, repeated, notes = _paired(ids_a, a, ids_b, b, kind, names)
    test: TestName = "mcnemar_exact" if kind == "binary" and not repeated else "paired_permutation"
    d = bv - av
    n = int(d.shape[0])
    if n < 2:
        notes.append("fewer than 2 paired examples")
        nan = float("nan")
        return Comparison(float(d.mean()) if n else nan, nan, nan, nan, test, n, nan, None,
                          "; ".join(notes), confidence, _INTERVAL[test])
    if test == "mcnemar_exact":
        p, low, high = mcnemar_interval(int((d > 0).sum()), int((d < 0).sum()), n, confidence)
    else:
        unit = bool(((av >= 0) & (av <= 1) & (bv >= 0) & (bv <= 1)).all())
        p, low, high = sign_flip_interval(d, rng, confidence, resamples,
                                          bound=1.0 if unit else math.inf)
        if math.isnan(p):
            notes.append(f"every paired difference is {float(d[0]):+.3g}: without spread there "
                         "is no interval and no test")
    sd, planned = planning_sd(d, "binary" if test == "mcnemar_exact" else "continuous")
    if planned:
        notes.append(planned)
    mde = minimum_detectable_effect(sd, n, alpha=1 - confidence)
    need = n_needed(sd, max(abs(float(d.mean()) - min_gain), mde / 4), alpha=1 - confidence)
    return Comparison(float(d.mean()), low, high, p, test, n, mde, need, "; ".join(notes),
                      confidence, _INTERVAL[test])
