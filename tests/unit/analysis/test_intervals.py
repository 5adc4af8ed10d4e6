"""Intervals that agree with their tests and never collapse to a point (issues 14 and 18)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from harness.analysis.intervals import (
    bootstrap_test_interval,
    holm_levels,
    mcnemar_interval,
    planning_sd,
    sign_flip_interval,
    wilson_interval,
)
from harness.analysis.stats import holm, paired_permutation_test

# --- Wilson: a variant's own accuracy ---------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(12, 12), (0, 12), (1, 1), (0, 1), (7, 20), (55, 60),
                                      (300, 1000)])
@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: int, n: int, conf: float) -> None:
    low, high = wilson_interval(k, n, conf)
    ref = proportion_confint(k, n, alpha=1 - conf, method="wilson")
    assert (low, high) == pytest.approx(ref, abs=1e-12)


def test_wilson_at_100_percent_is_not_a_point() -> None:
    # 12/12 at 95%: low = 1 / (1 + z^2 / n) = 1 / (1 + 3.8415 / 12) = 0.7575 (the old
    # bootstrap said [1, 1]).
    low, high = wilson_interval(12, 12)
    assert low == pytest.approx(1 / (1 + 1.959963984540054**2 / 12)) and high == 1.0
    assert wilson_interval(0, 12) == pytest.approx((0.0, 1 - low))
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(13, 12)


# --- exact McNemar with the melded interval (Fay & Lumbard 2021) -------------------------


def _q(n: int, tail: float = 0.025) -> float:
    # The 1 - tail quantile of Beta(1, n): 1 - tail ** (1 / n).
    return 1 - tail ** (1 / n)


def test_issue14_case3_no_discordant_pair_is_not_a_zero_interval() -> None:
    # 12 examples, both variants right on all: 0 discordant pairs. Fay & Lumbard's interval
    # (and exact2x2::mcnemarExactDP, whose code gives this closed form for m = 0) is
    # +/- qbeta(0.975, 1, 12) = +/- (1 - 0.025 ** (1/12)) = +/- 0.2646: "about 26 points".
    p, low, high = mcnemar_interval(0, 0, 12)
    assert p == 1.0
    assert (low, high) == pytest.approx((-0.26465, 0.26465), abs=1e-5)
    assert (low, high) == pytest.approx((-_q(12), _q(12)), rel=1e-12)
    # n = 2 (min_examples: 2): +/- (1 - sqrt(0.025)) = +/- 0.8419.
    assert mcnemar_interval(0, 0, 2)[1:] == pytest.approx((-0.84189, 0.84189), abs=1e-5)


def test_issue18_case1_five_wins_no_loss_is_not_significant() -> None:
    # 40 pairs, the candidate right on 5 where the baseline is wrong, never the reverse:
    # exact McNemar p = 2 * 0.5**5 = 0.0625, so the 95% interval must contain 0.
    p, low, high = mcnemar_interval(5, 0, 40)
    assert p == 0.0625
    assert low < 0 < 0.125 < high
    # Six wins: p = 2 * 0.5**6 = 0.03125 < 0.05, and the interval leaves 0 out.
    p6, low6, _ = mcnemar_interval(6, 0, 40)
    assert p6 == 0.03125 and low6 > 0
    # ... but not at Holm's level for three such tasks (alpha / 3 = 0.0167 < 0.03125).
    assert mcnemar_interval(6, 0, 40, 1 - 0.05 / 3)[1] < 0


def _melded_by_simulation(x: int, m: int, n: int, tail: float = 0.025,
                          draws: int = 2_000_000) -> tuple[float, float]:
    """The melded limits by their definition (exact2x2's Monte Carlo branch), independently."""
    rng = np.random.default_rng(7)

    def beta(a: float, b: float, at_edge: float) -> np.ndarray:
        return rng.beta(a, b, draws) if a > 0 and b > 0 else np.full(draws, at_edge)

    t_low, t_up = beta(m, n - m + 1, 0.0), beta(m + 1, n - m, 1.0)
    b_low, b_up = beta(x, m - x + 1, 0.0), beta(x + 1, m - x, 1.0)
    low = min(np.quantile(t_low * (2 * b_low - 1), tail),
              np.quantile(t_up * (2 * b_low - 1), tail))
    high = max(np.quantile(t_low * (2 * b_up - 1), 1 - tail),
               np.quantile(t_up * (2 * b_up - 1), 1 - tail))
    return float(low), float(high)


@pytest.mark.parametrize(("wins", "losses", "n"), [
    (1, 7, 21),   # Bentur et al. 2009 (Fagerland et al. 2013 Table II; exact2x2's example)
    (5, 0, 40), (3, 7, 30), (10, 0, 10), (0, 4, 10)])
def test_melded_interval_matches_its_definition(wins: int, losses: int, n: int) -> None:
    # Numeric integration against 2 million draws: quantile error about 1e-3.
    ours = mcnemar_interval(wins, losses, n)[1:]
    assert ours == pytest.approx(_melded_by_simulation(wins, wins + losses, n), abs=2e-3)


def test_melded_interval_edges_from_the_method() -> None:
    # All pairs discordant and all won (m = x = n): the upper limit is 1, as in exact2x2's
    # code; all lost: the lower limit is -1.
    assert mcnemar_interval(10, 0, 10)[2] == 1.0
    assert mcnemar_interval(0, 10, 10)[1] == -1.0
    # Symmetry: swapping wins and losses mirrors the interval.
    assert mcnemar_interval(7, 1, 21)[1:] == pytest.approx(
        tuple(-x for x in reversed(mcnemar_interval(1, 7, 21)[1:])), abs=1e-12)
    with pytest.raises(ValueError):
        mcnemar_interval(5, 6, 10)


def test_melded_interval_covers_at_least_95_percent_exactly() -> None:
    # Exact coverage for n = 10 over a grid of (discordance rate theta, win share beta): the
    # probability that the true difference theta * (2 beta - 1) lies below (above) the
    # interval, summed over all (m, x) tables, must not exceed 2.5% on either side.
    n = 10
    tables = [(x, m) for m in range(n + 1) for x in range(m + 1)]
    xs, ms = np.array([t[0] for t in tables]), np.array([t[1] for t in tables])
    bounds = np.array([mcnemar_interval(x, m - x, n)[1:] for x, m in tables])
    worst_low = worst_high = 0.0
    for theta in np.linspace(0, 1, 41):
        for beta in np.linspace(0, 1, 41):
            delta = theta * (2 * beta - 1)
            prob = sps.binom.pmf(ms, n, theta) * sps.binom.pmf(xs, ms, beta)
            worst_low = max(worst_low, float(prob[bounds[:, 0] > delta + 1e-12].sum()))
            worst_high = max(worst_high, float(prob[bounds[:, 1] < delta - 1e-12].sum()))
    assert worst_low <= 0.025 + 1e-9 and worst_high <= 0.025 + 1e-9
    assert worst_low > 0.02  # and it is not vacuous


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), data=st.data(),
       conf=st.sampled_from([0.8, 0.9, 0.95, 0.99, 1 - 0.05 / 3]))
def test_melded_interval_properties(n: int, data: st.DataObject, conf: float) -> None:
    wins = data.draw(st.integers(0, n))
    losses = data.draw(st.integers(0, n - wins))
    p, low, high = mcnemar_interval(wins, losses, n, conf)
    delta = (wins - losses) / n
    assert -1 <= low <= delta <= high <= 1  # contains the observed difference
    assert high - low > 0  # never a point, even with no discordant pair
    assert (low > 0 or high < 0) == (p < 1 - conf)  # agrees with exact McNemar
    assert p == pytest.approx(min(1.0, sps.binomtest(wins, wins + losses).pvalue)
                              if wins + losses else 1.0, rel=1e-9)
    if losses >= 1:  # a loss turned into a win moves both limits up
        _, low2, high2 = mcnemar_interval(wins + 1, losses - 1, n, conf)
        assert low2 >= low - 1e-9 and high2 >= high - 1e-9
    if wins + losses < n:  # a tie turned into a win moves both limits up
        _, low3, high3 = mcnemar_interval(wins + 1, losses, n, conf)
        assert low3 >= low - 1e-9 and high3 >= high - 1e-9


# --- sign-flip permutation test and its inversion ----------------------------------------


def test_sign_flip_interval_hand_example() -> None:
    # d = 1, 1, 1, 1, 1, 2 (n = 6, all 64 sign vectors). A split counts for a shift delta when
    # delta lies between its two group means. The group without the 2 has mean 1, so every
    # split counts only from delta = 1 up (lower limit 1); the group with the 2 and j ones
    # has mean (2 + j) / (j + 1): 2 for j = 0 (2 vectors), 1.5 for j = 1 (10 vectors).
    # p(delta) >= 0.05 needs 4 of 64 vectors: the 2 trivial ones (none or all flipped) and
    # the 2 with j = 0 reach up to delta = 2. So the interval is [1, 2]; at 0 only the
    # trivial two count: p = 2/64 = 0.03125.
    rng = np.random.default_rng(0)
    p, low, high = sign_flip_interval([1, 1, 1, 1, 1, 2], rng)
    assert p == 0.03125
    assert (low, high) == pytest.approx((1.0, 2.0), abs=1e-9)
    # d = 1, 2, 3: 8 vectors, 4 needed at 5%? 0.05 * 8 = 0.4: 1 suffices, and the trivial
    # two count everywhere: no shift is rejected, the interval is the whole range.
    p3, low3, high3 = sign_flip_interval([1, 2, 3], rng, bound=1.0)
    assert p3 == 0.25 and (low3, high3) == (-1.0, 1.0)
    assert sign_flip_interval([1, 2, 3], rng)[1:] == (-math.inf, math.inf)


def test_sign_flip_identical_differences_have_no_interval() -> None:
    # A bootstrap of identical differences collapses to [c, c]; so would the inversion.
    for d in (np.zeros(12), np.full(30, 0.1)):
        assert all(math.isnan(x) for x in sign_flip_interval(d, np.random.default_rng(0)))
    assert all(math.isnan(x) for x in sign_flip_interval([0.3], np.random.default_rng(0)))


@pytest.mark.parametrize("n", [12, 40])
def test_sign_flip_p_is_the_permutation_test(n: int) -> None:
    gen = np.random.default_rng(n)
    a = gen.random(n)
    b = a + 0.15 + 0.3 * gen.normal(size=n)
    p, _, _ = sign_flip_interval(b - a, np.random.default_rng(4))
    assert p == pytest.approx(paired_permutation_test(a, b, np.random.default_rng(4)),
                              abs=1e-12)


def test_sign_flip_interval_covers_about_95_percent() -> None:
    gen = np.random.default_rng(21)
    hits = 0
    for _ in range(300):
        d = 0.2 + gen.normal(size=25)
        _, low, high = sign_flip_interval(d, gen, resamples=2000)
        hits += low <= 0.2 <= high
    assert 0.92 <= hits / 300 <= 0.985


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=24),
       conf=st.sampled_from([0.9, 0.95, 0.99]))
def test_sign_flip_properties(values: list[float], conf: float) -> None:
    d = np.asarray(values)
    p, low, high = sign_flip_interval(d, np.random.default_rng(1), conf, resamples=999,
                                      bound=2.0)
    if float(np.ptp(d)) == 0:
        assert math.isnan(p) and math.isnan(low) and math.isnan(high)
        return
    assert low <= float(d.mean()) <= high
    assert high - low > 0
    assert (low > 0 or high < 0) == (p < 1 - conf)


# --- bootstrap with a p-value that agrees ------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(shift=st.floats(-0.5, 0.5), conf=st.sampled_from([0.9, 0.95, 0.99]),
       r=st.integers(50, 400))
def test_bootstrap_test_interval_agrees(shift: float, conf: float, r: int) -> None:
    boot = shift + 0.2 * np.random.default_rng(r).normal(size=r)
    p, low, high = bootstrap_test_interval(boot, conf)
    assert low <= high
    assert (low > 0 or high < 0) == (p < 1 - conf)


def test_bootstrap_collapse_is_undefined() -> None:
    assert all(math.isnan(x) for x in bootstrap_test_interval(np.full(500, 0.02)))
    # 1,000 replicates, 30 of them <= 0: p = 0.06, low = the 25th smallest <= 0.
    boot = np.r_[np.full(30, -0.01), np.linspace(0.01, 1, 970)]
    p, low, _ = bootstrap_test_interval(boot)
    assert p == pytest.approx(0.06) and low < 0


# --- Holm ------------------------------------------------------------------------------


def test_holm_levels_issue18_case2() -> None:
    # Three tasks, each 6 wins 0 losses of 40: raw p = 2 * 0.5**6 = 0.03125; Holm: 3 x
    # 0.03125 = 0.094 for all, none rejected, so all three intervals are at 1 - 0.05/3.
    ps = [0.03125] * 3
    assert holm(ps) == pytest.approx([0.09375] * 3)
    assert holm_levels(ps) == pytest.approx([1 - 0.05 / 3] * 3)
    assert holm_levels([0.03125]) == [0.95]  # one task: unadjusted


def test_holm_levels_step_down_hand_example() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04: tested at 0.05/4, /3, /2 (reject, reject, stop); the
    # last shares the stopping step's level 0.05/2.
    levels = holm_levels([0.01, 0.04, 0.03, 0.005, float("nan")])
    assert levels == pytest.approx([1 - 0.05 / 3, 1 - 0.05 / 2, 1 - 0.05 / 2, 1 - 0.05 / 4,
                                    0.95])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), min_size=1, max_size=5))
def test_holm_level_intervals_agree_with_holm_p(tables: list[tuple[int, int]]) -> None:
    n = 40
    ps = [mcnemar_interval(w, lo, n)[0] for w, lo in tables]
    for (w, lo), p_adj, level in zip(tables, holm(ps), holm_levels(ps), strict=True):
        _, low, high = mcnemar_interval(w, lo, n, level)
        assert (low > 0 or high < 0) == (p_adj < 0.05)


# --- power planning --------------------------------------------------------------------


def test_planning_sd_never_zero() -> None:
    # Binary: sqrt(max(discordance, 3/n)), capped at 1: 12 concordant -> sqrt(3/12) = 0.5.
    assert planning_sd(np.zeros(12), "binary") == (0.5, "")
    assert planning_sd(np.zeros(2), "binary")[0] == 1.0  # 3/2 capped at 1
    # Continuous with no variation: the same rule of three, stated in the note.
    sd, note = planning_sd(np.zeros(12), "continuous")
    assert sd == 0.5 and "rule of three" in note
    assert planning_sd(np.full(12, 0.8), "continuous")[0] == pytest.approx(0.8)
    assert planning_sd([0.1, 0.3], "continuous") == (pytest.approx(math.sqrt(0.02)), "")
    assert math.isnan(planning_sd([1.0], "binary")[0])
