from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from harness.analysis.paired import bootstrap_mean_ci
from harness.analysis.stats import (
    binary_diff_sd,
    clustered,
    compare,
    holm,
    mcnemar_exact,
    minimum_detectable_effect,
    n_needed,
    paired_bootstrap_many,
    paired_permutation_test,
)

Z975 = 1.959963984540054  # standard normal quantiles, from tables
Z80 = 0.8416212335729143


def _exact_mcnemar_by_hand(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    return float(min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n))


# --- McNemar -------------------------------------------------------------------------


def test_mcnemar_known_value_b10_c2() -> None:
    a = [1] * 10 + [0] * 2 + [1] * 5 + [0] * 7
    b = [0] * 10 + [1] * 2 + [1] * 5 + [0] * 7
    assert mcnemar_exact(a, b) == pytest.approx(158 / 4096)
    assert round(mcnemar_exact(a, b), 4) == 0.0386
    assert mcnemar_exact(b, a) == pytest.approx(158 / 4096)


@pytest.mark.parametrize("seed", range(5))
def test_mcnemar_matches_binomtest_and_hand_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, 60)
    b = np.where(rng.random(60) < 0.3, 1 - a, a)
    only_a = int(((a == 1) & (b == 0)).sum())
    only_b = int(((a == 0) & (b == 1)).sum())
    expected = sps.binomtest(only_b, only_a + only_b, 0.5).pvalue
    assert mcnemar_exact(a, b) == pytest.approx(expected, rel=1e-12)
    assert mcnemar_exact(a, b) == pytest.approx(_exact_mcnemar_by_hand(only_a, only_b))


def test_mcnemar_edge_cases() -> None:
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == 1.0
    assert math.isnan(mcnemar_exact([1], [0]))
    # A pair with a NaN is dropped, not counted as a disagreement.
    assert mcnemar_exact([1, 1, 0, np.nan], [0, 0, 0, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0.5, 1], [1, 1])
    with pytest.raises(ValueError, match="length"):
        mcnemar_exact([0, 1], [1, 1, 0])


# --- permutation test ----------------------------------------------------------------


def test_permutation_exact_hand_example() -> None:
    # d = 1, 2, 3: of 8 sign vectors only +++ and --- reach |sum| >= 6.
    assert paired_permutation_test([0, 0, 0], [1, 2, 3], np.random.default_rng(0)) == 0.25
    # A zero difference doubles both counts; the p-value is unchanged.
    assert paired_permutation_test([0] * 4, [0, 1, 2, 3], np.random.default_rng(0)) == 0.25
    assert paired_permutation_test([1, 2], [1, 2], np.random.default_rng(0)) == 1.0


def _scipy_paired(a: np.ndarray, b: np.ndarray, resamples: float, seed: int) -> float:
    res = sps.permutation_test(
        (a, b), lambda x, y, axis: np.mean(y - x, axis=axis), vectorized=True,
        permutation_type="samples", n_resamples=resamples, alternative="two-sided",
        random_state=seed)
    return float(res.pvalue)


@pytest.mark.parametrize("seed", range(3))
def test_permutation_exact_matches_scipy_for_small_n(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=12)
    b = a + 0.4 + rng.normal(size=12)
    ours = paired_permutation_test(a, b, np.random.default_rng(0))
    assert ours == pytest.approx(_scipy_paired(a, b, np.inf, 0), abs=1e-12)
    # Exact: the generator is not consulted.
    assert paired_permutation_test(a, b, np.random.default_rng(99)) == ours


@pytest.mark.parametrize("seed", range(3))
def test_permutation_monte_carlo_matches_scipy(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    a = rng.normal(size=40)
    b = a + 0.3 + rng.normal(size=40)
    ours = paired_permutation_test(a, b, np.random.default_rng(seed), resamples=20_000)
    theirs = _scipy_paired(a, b, 19_999, seed)
    assert 0.001 < theirs < 0.9
    # Two Monte Carlo estimates, each with sd <= 0.0036: 0.015 is over 3 sd of the gap.
    assert ours == pytest.approx(theirs, abs=0.015)


def test_permutation_seeded_and_never_zero() -> None:
    a = np.zeros(200)
    b = np.full(200, 1.0)
    p1 = paired_permutation_test(a, b, np.random.default_rng(5), resamples=999)
    assert p1 == pytest.approx(1 / 1000)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=50)
    assert paired_permutation_test(a, b, np.random.default_rng(3)) == \
        paired_permutation_test(a, b, np.random.default_rng(3))
    assert math.isnan(paired_permutation_test([1.0], [2.0], np.random.default_rng(0)))
    with pytest.raises(ValueError, match="resamples"):
        paired_permutation_test(a, b, np.random.default_rng(0), resamples=0)


# --- Holm ----------------------------------------------------------------------------


def test_holm_hand_example() -> None:
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_nan_passes_through_and_is_not_counted() -> None:
    out = holm([0.01, float("nan"), 0.04, 0.03, 0.005])
    assert math.isnan(out[1])
    assert [out[0], *out[2:]] == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_rejects_bad_input() -> None:
    assert holm([0.5, 0.6]) == [1.0, 1.0]
    assert holm([]) == []
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.2, 1.5])


# --- bootstrap -----------------------------------------------------------------------


def test_bootstrap_many_covers_true_mean_about_95_percent() -> None:
    data = np.random.default_rng(7).normal(0.3, 1.0, size=(200, 400))
    cis = paired_bootstrap_many(data, np.random.default_rng(8), resamples=1000)
    covered = np.mean([ci.low <= 0.3 <= ci.high for ci in cis])
    assert 0.91 <= covered <= 0.98
    widths = np.array([ci.high - ci.low for ci in cis])
    # Half-width close to 1.96 * sd / sqrt(n).
    assert np.median(widths) / 2 == pytest.approx(1.96 / math.sqrt(200), rel=0.1)


def test_bootstrap_constructed_sample_contains_mean() -> None:
    x = np.array([0.0, 1.0] * 50 + [1.0] * 20)  # mean 70/120
    (ci,) = paired_bootstrap_many(x, np.random.default_rng(0))
    assert ci.estimate == pytest.approx(70 / 120)
    assert ci.low < 70 / 120 < ci.high
    assert ci.n == 120


def test_bootstrap_many_seeded_and_shared_indices() -> None:
    rng = np.random.default_rng(3)
    col = rng.normal(size=300)
    other = rng.normal(size=300)
    data = np.column_stack([col, col, -col, 2 * col, other])
    first = paired_bootstrap_many(data, np.random.default_rng(11), resamples=500)
    again = paired_bootstrap_many(data, np.random.default_rng(11), resamples=500)
    other_seed = paired_bootstrap_many(data, np.random.default_rng(12), resamples=500)
    assert first == again
    assert first != other_seed
    assert first[0] == first[1]
    assert (first[2].low, first[2].high) == pytest.approx((-first[0].high, -first[0].low))
    assert (first[3].low, first[3].high) == pytest.approx((2 * first[0].low, 2 * first[0].high))


def test_bootstrap_many_single_column_equals_bootstrap_mean_ci() -> None:
    x = np.random.default_rng(4).normal(size=150)
    (ours,) = paired_bootstrap_many(x, np.random.default_rng(9), resamples=700)
    ref = bootstrap_mean_ci(x, np.random.default_rng(9), resamples=700)
    assert (ours.estimate, ours.low, ours.high) == pytest.approx(
        (ref.estimate, ref.low, ref.high), rel=1e-12)


def test_bootstrap_many_nan_handling() -> None:
    data = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, 5.0], [4.0, np.nan]])
    full, sparse = paired_bootstrap_many(data, np.random.default_rng(0), resamples=200)
    assert full.n == 4 and full.note == ""
    assert sparse.n == 1 and sparse.estimate == 5.0
    assert math.isnan(sparse.low) and math.isnan(sparse.high)
    assert "fewer than 2" in sparse.note
    partial = np.array([[1.0, 1.0], [2.0, np.nan], [3.0, 3.0], [4.0, np.nan], [5.0, 5.0]])
    _, mid = paired_bootstrap_many(partial, np.random.default_rng(0), resamples=500)
    assert mid.n == 3 and mid.estimate == 3.0
    assert 1.0 <= mid.low < 3.0 < mid.high <= 5.0


# --- clustering ----------------------------------------------------------------------


def test_clustered_first_seen_order_and_means() -> None:
    ids, means = clustered(["b", "a", "b", "c", "a", "c"], [1, 0, 0, np.nan, 1, np.nan])
    assert ids == ["b", "a", "c"]
    assert means[:2] == pytest.approx([0.5, 0.5])
    assert math.isnan(means[2])
    with pytest.raises(ValueError, match="2 ids but 3 scores"):
        clustered(["a", "b"], [1, 2, 3])


# --- power ---------------------------------------------------------------------------


def test_mde_and_n_needed_hand_computed() -> None:
    assert minimum_detectable_effect(0.5, 100) == pytest.approx((Z975 + Z80) * 0.05)
    # ((1.959964 + 0.841621) * 0.5 / 0.1) ** 2 = 196.2 -> 197.
    assert n_needed(0.5, 0.1) == 197
    assert n_needed(0.5, -0.1) == 197
    assert n_needed(1.0, 0.2, alpha=0.01, power=0.9) == math.ceil(
        ((2.5758293035489004 + 1.2815515655446004) * 5) ** 2)
    assert n_needed(0.01, 1.0) == 2
    assert minimum_detectable_effect(0.5, n_needed(0.5, 0.1) or 0) <= 0.1


def test_power_degenerate_inputs() -> None:
    assert math.isnan(minimum_detectable_effect(0.5, 1))
    assert math.isnan(minimum_detectable_effect(0.0, 100))
    assert n_needed(0.0, 0.1) is None
    assert n_needed(0.5, 0.0) is None
    assert n_needed(float("nan"), 0.1) is None
    with pytest.raises(ValueError, match="negative"):
        n_needed(-1.0, 0.1)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        minimum_detectable_effect(0.5, 100, alpha=1.5)


def test_binary_diff_sd_is_conservative_and_never_zero() -> None:
    assert binary_diff_sd(np.zeros(100)) == pytest.approx(math.sqrt(0.03))
    assert binary_diff_sd([1] * 10 + [-1] * 10 + [0] * 80) == pytest.approx(math.sqrt(0.2))
    assert binary_diff_sd(np.ones(50)) == 1.0  # observed sd 0: all discordant one way
    assert math.isnan(binary_diff_sd([1.0]))


# --- compare -------------------------------------------------------------------------


def _ids(n: int) -> list[str]:
    return [f"ex{i}" for i in range(n)]


def test_compare_binary_uses_mcnemar_and_reorders() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 120).astype(float)
    b = np.where(rng.random(120) < 0.25, 1.0, a)
    ids = _ids(120)
    c = compare(ids, a, ids, b, "binary", np.random.default_rng(1), min_gain=0.02)
    assert c.test == "mcnemar_exact"
    assert c.delta == pytest.approx(float(np.mean(b - a)))
    assert c.ci_low < c.delta < c.ci_high
    assert c.p_value == pytest.approx(mcnemar_exact(a, b))
    assert c.n == 120 and c.note == ""
    assert c.mde > 0 and c.n_needed is not None
    shuffled = np.random.default_rng(2).permutation(120)
    again = compare(ids, a, [ids[i] for i in shuffled], b[shuffled], "binary",
                    np.random.default_rng(1), min_gain=0.02)
    assert again == c


def test_compare_misaligned_ids_raise_naming_both() -> None:
    with pytest.raises(ValueError) as err:
        compare(["x", "y", "z"], [1, 0, 1], ["x", "y", "w"], [1, 1, 1], "binary",
                np.random.default_rng(0), names=("prompt", "lora"))
    msg = str(err.value)
    assert "prompt" in msg and "lora" in msg and "'z'" in msg and "'w'" in msg


def test_compare_clusters_repeated_samples() -> None:
    ids = [i for i in _ids(30) for _ in range(3)]
    rng = np.random.default_rng(5)
    a = rng.integers(0, 2, 90)
    b = rng.integers(0, 2, 90)
    c = compare(ids, a, ids, b, "binary", np.random.default_rng(0))
    assert c.n == 30
    assert c.test == "paired_permutation"
    assert "averaged per example" in c.note
    _, ma = clustered(ids, a)
    _, mb = clustered(ids, b)
    assert c.delta == pytest.approx(float(np.mean(mb - ma)))


def test_compare_continuous_and_degenerate_cases() -> None:
    rng = np.random.default_rng(6)
    a = rng.random(40)
    b = a + 0.1 + 0.05 * rng.normal(size=40)
    c = compare(_ids(40), a, _ids(40), b, "continuous", np.random.default_rng(0))
    assert c.test == "paired_permutation" and c.p_value < 0.01
    tiny = compare(["a"], [1.0], ["a"], [0.0], "binary", np.random.default_rng(0))
    assert tiny.n == 1 and math.isnan(tiny.ci_low) and math.isnan(tiny.p_value)
    assert tiny.n_needed is None and "fewer than 2" in tiny.note
    gaps = compare(_ids(4), [1, np.nan, 0, 1], _ids(4), [1, 1, 1, 0], "binary",
                   np.random.default_rng(0))
    assert gaps.n == 3 and "1 examples not scored" in gaps.note
    with pytest.raises(ValueError, match="0 or 1"):
        compare(_ids(2), [0.5, 1], _ids(2), [1, 1], "binary", np.random.default_rng(0))
    with pytest.raises(ValueError, match="kind"):
        compare(_ids(2), [0, 1], _ids(2), [1, 1], "ordinal",  # type: ignore[arg-type]
                np.random.default_rng(0))


def test_compare_n_needed_tracks_distance_to_min_gain() -> None:
    rng = np.random.default_rng(8)
    a = rng.integers(0, 2, 200).astype(float)
    b = np.where(rng.random(200) < 0.1, 1.0, a)
    far = compare(_ids(200), a, _ids(200), b, "binary", np.random.default_rng(0), min_gain=-0.2)
    near = compare(_ids(200), a, _ids(200), b, "binary", np.random.default_rng(0),
                   min_gain=far.delta)
    assert far.n_needed is not None and near.n_needed is not None
    assert far.n_needed < 200 < near.n_needed
    # At the threshold the distance is floored at MDE / 4: about 16 x n.
    assert near.n_needed == pytest.approx(16 * 200, rel=0.01)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 10_000), kind=st.sampled_from(
    ["binary", "continuous"]), conf=st.sampled_from([0.9, 0.95]))
def test_compare_interval_agrees_with_its_test(n: int, seed: int, kind: str,
                                               conf: float) -> None:
    # Issue 18: the interval excludes 0 exactly when the reported test rejects, contains the
    # observed difference, and is never a point; power never collapses (n >= 2).
    gen = np.random.default_rng(seed)
    a = gen.integers(0, 2, n).astype(float) if kind == "binary" else gen.random(n)
    b = (np.where(gen.random(n) < 0.3, 1.0, a) if kind == "binary"
         else np.clip(a + 0.1 + 0.2 * gen.normal(size=n), 0, 1))
    c = compare(_ids(n), a, _ids(n), b, kind, np.random.default_rng(seed),  # type: ignore[arg-type]
                confidence=conf)
    assert c.n_needed is not None and c.mde > 0
    if math.isnan(c.p_value):  # continuous differences with no spread
        assert math.isnan(c.ci_low) and "no interval" in c.note
        return
    assert c.ci_low <= c.delta <= c.ci_high and c.ci_high > c.ci_low
    assert (c.ci_low > 0 or c.ci_high < 0) == (c.p_value < 1 - conf)
