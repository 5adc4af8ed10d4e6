"""Paired differences and bootstrap intervals: aligned, seeded, honest for tiny n."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis.paired import bootstrap_mean_ci, paired_difference


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_misaligned_ids_raise():
    with pytest.raises(ValueError, match="base and cand were scored on different examples"):
        paired_difference(["a", "b", "c"], [1, 0, 1], ["a", "b", "d"], [1, 1, 1], _rng(),
                          baseline="base", candidate="cand")
    with pytest.raises(ValueError, match="different examples"):
        paired_difference(["a", "b"], [1, 0], ["a", "b", "c"], [1, 1, 1], _rng())


def test_reordered_ids_are_aligned():
    ids = ["a", "b", "c", "d"]
    a = [1.0, 0.0, 0.0, 1.0]
    b = {"a": 1.0, "b": 1.0, "c": 0.0, "d": 0.0}
    order = ["d", "c", "b", "a"]
    d = paired_difference(ids, a, order, [b[k] for k in order], _rng(), resamples=500)
    # per example: a 0, b +1, c 0, d -1
    assert (d.wins, d.losses, d.ties, d.n) == (1, 1, 2, 4)
    assert d.delta == pytest.approx(0.0)
    same = paired_difference(ids, a, ids, [b[k] for k in ids], _rng(), resamples=500)
    assert (same.delta, same.low, same.high) == (d.delta, d.low, d.high)


def test_seeded_determinism():
    gen = np.random.default_rng(42)
    a, b = gen.random(100), gen.random(100)
    ids = [str(i) for i in range(100)]
    one = paired_difference(ids, a, ids, b, _rng(7), resamples=1000)
    two = paired_difference(ids, a, ids, b, _rng(7), resamples=1000)
    other = paired_difference(ids, a, ids, b, _rng(8), resamples=1000)
    assert one == two
    assert (one.low, one.high) != (other.low, other.high)
    assert one.delta == other.delta == pytest.approx(float(np.mean(b - a)))


def test_interval_contains_the_true_delta():
    # Baseline right 60% of the time; the candidate additionally fixes 20% of the
    # baseline's errors on a disjoint set of examples: true delta = 0.4 * 0.5 = 0.2.
    n = 2000
    gen = np.random.default_rng(123)
    a = (gen.random(n) < 0.6).astype(float)
    b = a.copy()
    b[(a == 0) & (gen.random(n) < 0.5)] = 1.0
    ids = [f"x{i}" for i in range(n)]
    d = paired_difference(ids, a, ids, b, _rng(1), resamples=2000, baseline="p", candidate="ft")
    assert (d.baseline, d.candidate) == ("p", "ft")
    assert d.low < 0.2 < d.high
    assert d.low > 0.15 and d.high < 0.25
    assert d.losses == 0 and d.wins == int((b > a).sum())
    assert d.note == ""


def test_interval_width_follows_confidence():
    gen = np.random.default_rng(5)
    a, b = gen.random(300), gen.random(300)
    ids = [str(i) for i in range(300)]
    narrow = paired_difference(ids, a, ids, b, _rng(), confidence=0.8)
    wide = paired_difference(ids, a, ids, b, _rng(), confidence=0.99)
    assert wide.low < narrow.low < narrow.delta < narrow.high < wide.high


@pytest.mark.parametrize(("ids", "a", "b", "delta"), [
    ([], [], [], math.nan),
    (["a"], [0.0], [1.0], 1.0),
    (["a", "b"], [0.0, math.nan], [1.0, 1.0], 1.0),
])
def test_fewer_than_two_pairs_gives_nan_bounds_with_a_note(ids, a, b, delta):
    d = paired_difference(ids, a, ids, b, _rng())
    assert math.isnan(d.low) and math.isnan(d.high)
    assert d.note == "fewer than 2 paired examples"
    assert d.n == (0 if not ids else 1)
    assert (math.isnan(delta) and math.isnan(d.delta)) or d.delta == delta


def test_nan_scores_are_dropped_from_pairs():
    ids = ["a", "b", "c", "d"]
    d = paired_difference(ids, [1, math.nan, 0, 0], ids, [1, 1, math.nan, 1], _rng(),
                          resamples=300)
    assert d.n == 2 and (d.wins, d.ties) == (1, 1)
    assert d.delta == pytest.approx(0.5)


def test_bootstrap_mean_ci():
    gen = np.random.default_rng(9)
    values = gen.normal(10.0, 1.0, 500)
    ci = bootstrap_mean_ci(values, _rng(3), resamples=2000)
    assert ci.estimate == pytest.approx(values.mean())
    assert ci.low < 10.0 < ci.high and ci.high - ci.low < 0.3
    assert ci.n == 500 and ci.note == ""
    assert bootstrap_mean_ci(values, _rng(3), resamples=2000) == ci


def test_bootstrap_mean_ci_small_and_constant():
    one = bootstrap_mean_ci([0.5, math.nan], _rng())
    assert one.estimate == 0.5 and one.n == 1
    assert math.isnan(one.low) and math.isnan(one.high)
    assert one.note == "fewer than 2 scored examples"
    assert math.isnan(bootstrap_mean_ci([], _rng()).estimate)
    # Identical values: every bootstrap mean is 1.0, a zero-width interval that says
    # nothing about the next example. Was (1.0, 1.0, 1.0); right: undefined, with a note.
    flat = bootstrap_mean_ci([1.0, 1.0, 1.0], _rng(), resamples=300)
    assert flat.estimate == 1.0 and flat.n == 3
    assert math.isnan(flat.low) and math.isnan(flat.high)
    assert "every value is the same" in flat.note
