"""Intervals that agree with their test, and that never collapse to a point by accident.

Every paired interval here is the inversion of the test reported beside it,
so at level ``1 - alpha`` it excludes 0 exactly when that test's two-sided
p-value is below ``alpha``:

- 0/1 scores, one per example: exact McNemar (binomial on the discordant
  pairs) with the melded interval of Fay & Lumbard (2021) for the
  difference in proportions, which stays wide when few or no pairs are
  discordant (12 concordant pairs: +/-26.5 points, not [0, 0]);
- other scores: the paired sign-flip permutation test on the mean
  difference, with the interval of the shifts it does not reject.

A variant's own 0/1 accuracy gets Wilson's score interval (never [1, 1]
at 100%). Pure functions; the only randomness is a seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import integrate, special
from scipy import stats as sps
from scipy.optimize import brentq

__all__ = ["bootstrap_test_interval", "holm_levels", "mcnemar_interval", "planning_sd",
           "sign_flip_interval", "wilson_interval"]

_Floats = NDArray[np.float64]
_EXACT_MAX_N = 16
_CHUNK_ELEMENTS = 1_000_000


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion.

    Source: Wilson (1927), JASA 22:209-212; the same as statsmodels'
    ``proportion_confint(method="wilson")``. At 0 or ``n`` successes one
    bound is 0 or 1 and the other is not (12/12 at 95%: [0.758, 1]).

    Args:
        successes: Examples scored 1.
        n: Examples scored.
        confidence: Interval level, in (0, 1).

    Returns:
        ``(low, high)``; NaN bounds when ``n`` is 0.

    Raises:
        ValueError: ``successes`` outside [0, n] or ``confidence`` outside (0, 1).
    """
    _check_level(confidence)
    if not 0 <= successes <= n:
        raise ValueError(f"successes must lie in [0, {n}], got {successes}")
    if n == 0:
        return float("nan"), float("nan")
    z = float(sps.norm.ppf(1 - (1 - confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _check_level(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


# --- exact McNemar and its melded interval (Fay & Lumbard 2021) ------------------------


def _mcnemar_tails(wins: int, discordant: int) -> tuple[float, float]:
    """One-sided exact p-values: P(W >= wins) and P(W <= wins), W ~ Binomial(m, 1/2)."""
    upper = float(sps.binom.sf(wins - 1, discordant, 0.5)) if wins > 0 else 1.0
    lower = float(sps.binom.cdf(wins, discordant, 0.5)) if wins < discordant else 1.0
    return upper, lower


def _beta_mean_of(h_arg: float, t_a: float, t_b: float, x: int, m: int) -> float:
    """E[I_{1/2 + h_arg / (2T)}(x, m - x + 1)] for T ~ Beta(t_a, t_b), the melded tail."""

    def integrand(t: float) -> float:
        y = min(1.0, max(0.0, 0.5 + h_arg / (2 * t)))
        log_pdf = ((t_a - 1) * math.log(t) + (t_b - 1) * math.log1p(-t)
                   - special.betaln(t_a, t_b))
        return float(special.betainc(x, m - x + 1, y)) * math.exp(log_pdf)

    lo = float(special.betaincinv(t_a, t_b, 1e-15))
    hi = float(special.betaincinv(t_a, t_b, 1 - 1e-15))
    lo, hi = max(lo, 1e-300), min(hi, 1 - 1e-16)
    kink = abs(h_arg)
    points = [kink] if lo < kink < hi else None
    value, _ = integrate.quad(integrand, lo, hi, points=points, epsabs=1e-13, epsrel=1e-10,
                              limit=200)
    return min(1.0, max(0.0, float(value)))


def _melded_cdf(delta: float, x: int, m: int, n: int) -> float:
    """P[T (2B - 1) <= delta]: the melded confidence distribution for the lower bound.

    ``B ~ Beta(x, m - x + 1)`` (the lower confidence distribution of the
    share of discordant pairs the candidate wins) and ``T`` the discordance
    rate's, ``Beta(m, n - m + 1)`` for ``delta > 0`` and ``Beta(m + 1, n - m)``
    below; degenerate Betas are handled as in Fay & Lumbard's exact2x2 code.
    """
    if delta == 0:
        return _mcnemar_tails(x, m)[0]
    if delta > 0:
        if x == 0:
            return 1.0
        return _beta_mean_of(delta, m, n - m + 1, x, m)
    if m == n:
        return float(special.betainc(x, m - x + 1, max(0.0, 0.5 + delta / 2))) if x else 1.0
    if x == 0:
        return float(sps.beta.sf(-delta, m + 1, n - m))
    return _beta_mean_of(delta, m + 1, n - m, x, m)


def _melded_lower(x: int, m: int, n: int, tail: float) -> float:
    """Lower bound with ``tail`` (alpha / 2) below it; its sign is the exact test's."""
    if m == 0:
        return -float(sps.beta.ppf(1 - tail, 1, n))
    if m == n and x == 0:
        return -1.0
    p0 = _mcnemar_tails(x, m)[0]
    if p0 == tail:
        return 0.0
    bracket = (0.0, 1.0) if p0 < tail else (-1.0, 0.0)
    root = _root(lambda d: _melded_cdf(d, x, m, n) - tail, *bracket)
    # Keep the root on the side of 0 that the exact tail says (rounding cannot flip it).
    tiny = math.nextafter(0.0, 1.0)
    return max(root, tiny) if p0 < tail else min(root, -tiny)


def _root(f: Callable[[float], float], lo: float, hi: float) -> float:
    return float(brentq(f, lo, hi, xtol=1e-10, rtol=1e-12, maxiter=200))


def mcnemar_interval(wins: int, losses: int, n: int,
                     confidence: float = 0.95) -> tuple[float, float, float]:
    """Exact McNemar p-value with the compatible interval for the paired difference.

    The difference is ``(wins - losses) / n`` (candidate minus baseline
    accuracy). The interval is Fay & Lumbard's melded interval (Stat Med
    2021, 40:1147-1159; R ``exact2x2::mcnemarExactDP``): it excludes 0 if
    and only if the two-sided exact McNemar p-value is below ``1 -
    confidence``, and with no discordant pair it is ``+/- q``, ``q`` the
    ``1 - alpha/2`` quantile of Beta(1, n) (n = 12 at 95%: 0.2646).

    Args:
        wins: Pairs the candidate gets right and the baseline wrong.
        losses: Pairs the baseline gets right and the candidate wrong.
        n: All pairs, concordant ones included (at least 1).
        confidence: Interval level, in (0, 1).

    Returns:
        ``(p_value, low, high)``.

    Raises:
        ValueError: Negative counts, ``wins + losses > n``, ``n < 1`` or a bad level.
    """
    _check_level(confidence)
    if min(wins, losses) < 0 or wins + losses > n or n < 1:
        raise ValueError(f"need 0 <= wins, losses and wins + losses <= n >= 1; got "
                         f"{wins}, {losses}, {n}")
    m = wins + losses
    tail = (1 - confidence) / 2
    up, down = _mcnemar_tails(wins, m)
    p = min(1.0, 2 * min(up, down))
    low = _melded_lower(wins, m, n, tail)
    high = -_melded_lower(losses, m, n, tail)
    return p, low, high


# --- the sign-flip permutation test and its inversion ---------------------------------


def _random_flips(n: int, rng: np.random.Generator, rows: int) -> NDArray[np.uint8]:
    """``rows`` random 0/1 flip patterns of length ``n`` (1 = flip the sign)."""
    row_bytes = (n + 7) // 8
    raw = np.frombuffer(rng.bytes(rows * row_bytes), dtype=np.uint8).reshape(rows, row_bytes)
    return np.unpackbits(raw, axis=1)[:, :n]


def _split_ranges(d: _Floats, rng: np.random.Generator, resamples: int
                  ) -> tuple[_Floats, _Floats, bool]:
    """Per sign vector, the shifts ``delta`` at which it is at least as extreme as the data.

    Flipping the signs of a set F of ``d - delta`` gives a sum at least as
    large in absolute value as the unflipped one exactly when ``delta`` lies
    between the mean of ``d`` over F and over its complement (with P and Q
    the two groups' sums of ``d - delta``, ``(P - Q)**2 >= (P + Q)**2`` is
    ``P * Q <= 0``); flipping none or all counts for every ``delta``. All
    ``2**n`` vectors up to 16 pairs (exact), else ``resamples`` random ones
    drawn in chunks that bound memory. Bounds are widened by a relative
    1e-12 so that float ties count, as the test counts them.
    """
    n = d.shape[0]
    total = float(d.sum())
    exact = n <= _EXACT_MAX_N
    rows = 2**n if exact else resamples
    chunk = max(1, min(rows, _CHUNK_ELEMENTS // n))
    lows, highs = np.empty(rows), np.empty(rows)
    for start in range(0, rows, chunk):
        stop = min(rows, start + chunk)
        flips = (((np.arange(start, stop)[:, None] >> np.arange(n)) & 1).astype(np.uint8)
                 if exact else _random_flips(n, rng, stop - start))
        k = flips.sum(axis=1).astype(float)
        flipped = flips @ d
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_f = flipped / k
            mean_u = (total - flipped) / (n - k)
        trivial = (k == 0) | (k == n)
        lows[start:stop] = np.where(trivial, -np.inf, np.minimum(mean_f, mean_u))
        highs[start:stop] = np.where(trivial, np.inf, np.maximum(mean_f, mean_u))
    tol = 1e-12 * max(float(np.abs(d).max()), 1e-300)
    return lows - tol, highs + tol, exact


def _needed(rows: int, exact: bool, alpha: float) -> int:
    """Fewest sign vectors that must count for the p-value to reach ``alpha``."""
    def p_of(count: int) -> float:
        return count / rows if exact else (1 + count) / (rows + 1)

    k = max(0, math.floor(alpha * (rows + 1)) - 1)
    while k > 0 and p_of(k - 1) >= alpha:
        k -= 1
    while p_of(k) < alpha:
        k += 1
    return k


def sign_flip_interval(diffs: ArrayLike, rng: np.random.Generator, confidence: float = 0.95,
                       resamples: int = 10_000, bound: float = math.inf
                       ) -> tuple[float, float, float]:
    """Two-sided paired sign-flip test of mean 0, with the interval that inverts it.

    ``p(delta)`` is the test of ``diffs - delta`` (exact over all ``2**n``
    sign vectors up to 16 pairs, else ``(count + 1) / (resamples + 1)`` over
    random ones, the same vectors for every ``delta``); the interval is
    ``{delta: p(delta) >= alpha}``, so it excludes 0 exactly when
    ``p(0) < alpha``. Source: the randomisation interval of Hartigan (1969)
    and Garthwaite (1996), Biometrics 52:1387-1393, computed exactly: a sign
    vector counts for ``delta`` between the means of the two groups it splits
    the pairs into.

    Args:
        diffs: Per-example differences (candidate - baseline), no NaN.
        rng: Seeded generator (unused when enumerating).
        confidence: Interval level, in (0, 1).
        resamples: Random sign vectors beyond 16 pairs.
        bound: The largest possible absolute difference: bounds are clipped to
            ``[-bound, bound]`` (1 for scores in [0, 1]; with few pairs the
            test cannot reject any shift and the interval is that whole range).

    Returns:
        ``(p_value, low, high)``; all NaN for fewer than 2 pairs or when every
        difference is the same: with no spread the inverted interval is that
        one value (zero width), which says nothing about the next example.

    Raises:
        ValueError: ``resamples`` below 1 or a bad level.
    """
    _check_level(confidence)
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    d = np.asarray(diffs, dtype=float).ravel()
    if d.shape[0] < 2 or float(np.ptp(d)) == 0.0:
        return float("nan"), float("nan"), float("nan")
    lows, highs, exact = _split_ranges(d, rng, resamples)
    rows = lows.shape[0]
    alpha = 1 - confidence
    count0 = int(((lows <= 0) & (highs >= 0)).sum())
    p = count0 / rows if exact else (1 + count0) / (rows + 1)
    k = _needed(rows, exact, alpha)
    low = -math.inf if k == 0 else float(np.partition(lows, k - 1)[k - 1])
    high = math.inf if k == 0 else float(-np.partition(-highs, k - 1)[k - 1])
    return p, max(low, -bound), min(high, bound)


def bootstrap_test_interval(boot: ArrayLike, confidence: float = 0.95
                            ) -> tuple[float, float, float]:
    """A percentile bootstrap interval and the p-value that agrees with it.

    For statistics with no exact paired test (e.g. a corpus-level metric
    recomputed on resampled examples): with ``R`` bootstrap values, the
    p-value is ``min(1, 2 * min(#(v <= 0), #(v >= 0)) / R)`` and the bounds
    are order statistics chosen so that the interval excludes 0 exactly when
    that p-value is below ``1 - confidence``.

    Args:
        boot: Bootstrap replicates of the difference.
        confidence: Interval level, in (0, 1).

    Returns:
        ``(p_value, low, high)``; NaN throughout when the replicates do not
        vary (a collapsed bootstrap has no interval) or there are none.
    """
    _check_level(confidence)
    v = np.sort(np.asarray(boot, dtype=float).ravel())
    v = v[~np.isnan(v)]
    r = v.shape[0]
    if r == 0 or v[0] == v[-1]:
        return float("nan"), float("nan"), float("nan")
    alpha = 1 - confidence
    below, above = int((v <= 0).sum()), int((v >= 0).sum())
    p = min(1.0, 2 * min(below, above) / r)
    j = max(1, math.ceil(alpha * r / 2))
    while j > 1 and 2 * (j - 1) / r >= alpha:
        j -= 1
    while 2 * j / r < alpha:
        j += 1
    # low > 0  <=>  fewer than j values <= 0  <=>  2 * below / r < alpha.
    return p, float(v[min(j, r) - 1]), float(v[r - min(j, r)])


# --- multiplicity and planning ----------------------------------------------------------


def holm_levels(p_values: Sequence[float], confidence: float = 0.95) -> list[float]:
    """The interval level that matches Holm's step-down test for each hypothesis.

    With ``m`` p-values sorted ascending, Holm tests the ``i``-th (from 0) at
    ``alpha / (m - i)`` and stops at the first it cannot reject; every later
    one shares that step's level. An interval at the returned level then
    excludes 0 exactly when its Holm-adjusted p-value is below ``alpha``
    (Holm 1979, Scand J Statist 6:65-70). NaN p-values get ``confidence``.

    Args:
        p_values: Raw p-values, one per hypothesis, in any order.
        confidence: The family's level, ``1 - alpha``.

    Returns:
        One level per p-value, in the input order (``confidence`` for one test).
    """
    _check_level(confidence)
    alpha = 1 - confidence
    p = np.asarray(p_values, dtype=float)
    out = [confidence] * p.shape[0]
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.shape[0]
    step, running = 0, 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * float(p[idx])))
        if running < alpha:
            step = i + 1
        out[int(idx)] = 1 - alpha / (m - min(i, step))
    return out


def planning_sd(diffs: ArrayLike, kind: str) -> tuple[float, str]:
    """A standard deviation of the paired differences for power and sample size.

    0/1 scores: the square root of the discordance rate (the variance under
    no effect, never below the observed one). Other scores: the sample sd.
    When no variation is seen, the rate (of examples where the two differ
    at all) is floored at ``3 / n`` (the rule of three: its 95% upper bound
    when none differ) and the difference bounded by 1 (scores in [0, 1]),
    and the note says so. The rate is capped at 1.

    Args:
        diffs: Per-example differences; NaNs are ignored.
        kind: ``binary`` or ``continuous``.

    Returns:
        ``(sd, note)``: NaN below 2 differences; the note is empty unless the
        planning value replaces an observed sd of 0.
    """
    d = np.asarray(diffs, dtype=float)
    d = d[~np.isnan(d)]
    n = d.shape[0]
    if n < 2:
        return float("nan"), ""
    second = float(np.mean(d**2))
    if kind == "binary":
        return math.sqrt(min(1.0, max(second, 3.0 / n))), ""
    if float(np.ptp(d)) > 0:  # (np.std of equal values can be 1e-16, not 0)
        return float(np.std(d, ddof=1)), ""
    plan = math.sqrt(min(1.0, max(second, 3.0 / n)))
    return plan, (f"no variation in the paired differences: power planned with sd {plan:.3f} "
                  f"(rule of three, scores in [0, 1])")
