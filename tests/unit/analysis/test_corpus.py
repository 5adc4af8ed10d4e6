"""Issue 18 case 3: a task's declared corpus metric (macro-F1) is what decides.

Baseline choice on dev, the paired comparison, the verdict and the economics
all use macro-F1 when the task says ``metric: macro_f1``; its paired
interval resamples examples and recomputes macro-F1 on both variants.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from harness.analysis.corpus import (
    bootstrap_p_value,
    corpus_compare,
    corpus_interval,
    example_stats,
)
from harness.analysis.verdict import TOO_SMALL, exit_code
from harness.history import history, regressions
from harness.scoring.corpus import CORPUS_METRICS, label_counts, macro_f1_value
from harness.store import Record, RunRow, Store
from tests.unit.resultskit import label_of as _label
from tests.unit.resultskit import results_json

MACRO = CORPUS_METRICS.get("macro_f1")
LABELS = ["A", "B", "C"]


def _rec(variant: str, split: str, i: int, gold: str, pred: str, sample: int = 0) -> Record:
    value = 1.0 if gold == pred else 0.0
    return Record("run-1", "route", "d", variant, "m", split, f"{split}{i}", sample, gold,
                  {"text": pred, "prediction": pred, "detail": {}},
                  {"label_accuracy": {"value": value, "explanation": "", "detail": {}}},
                  10, 1, 0.01, False, None)


def _cell(variant: str, split: str, gold: list[str], pred: list[str]) -> list[Record]:
    return [_rec(variant, split, i, g, p) for i, (g, p) in enumerate(zip(gold, pred,
                                                                          strict=True))]


def _config(metric: str = "macro_f1") -> dict:
    return {"spec": {"seed": 5, "analysis": {"resamples": 2000, "confidence": 0.95},
                     "decision": {"min_gain": 0.02},
                     "economics": {"price_in_per_mtok": 1.0, "price_out_per_mtok": 1.0,
                                   "calls_per_month": 1000, "labelling_cost_per_example": 0.0,
                                   "cost_per_error": 1.0, "gpu_price_per_hour": 1.0,
                                   "training_hours": 1.0}},
            "tasks": [{"name": "route", "family": "classification", "labels": LABELS,
                       "metric": metric, "primary": "label_accuracy", "n_train": 0}],
            "variants": [{"name": "p_acc", "kind": "prompt"}, {"name": "p_f1", "kind": "prompt"},
                         {"name": "ft", "kind": "lora"}],
            "models": ["m"]}


# Test: 100 rows, 90 A, 5 B, 5 C.
TEST_GOLD = ["A"] * 90 + ["B"] * 5 + ["C"] * 5
# The baseline p_f1 on test: 60 of the A rows right, 30 answered C; every B and C right.
#   accuracy = (60 + 5 + 5) / 100 = 0.70
#   F1(A) = 2*60 / (2*60 + 0 fp + 30 fn) = 120/150 = 0.8
#   F1(B) = 2*5 / (2*5 + 0 + 0) = 1.0
#   F1(C) = 2*5 / (2*5 + 30 fp + 0) = 10/40 = 0.25
#   macro-F1 = (0.8 + 1.0 + 0.25) / 3 = 2.05 / 3 = 0.68333
BASE_TEST = ["A"] * 60 + ["C"] * 30 + ["B"] * 5 + ["C"] * 5
# The candidate ft answers A always:
#   accuracy = 90 / 100 = 0.90
#   F1(A) = 2*90 / (2*90 + 10 fp + 0 fn) = 180/190 = 0.947368; F1(B) = F1(C) = 0
#   macro-F1 = 0.947368 / 3 = 0.315789
# gain in macro-F1 = 0.315789 - 0.683333 = -0.367544 (accuracy would say +0.20)
BASE_F1, CAND_F1 = 2.05 / 3, (180 / 190) / 3

# Dev: 20 rows, 18 A, 1 B, 1 C.
DEV_GOLD = ["A"] * 18 + ["B", "C"]
# p_acc answers A always: accuracy 18/20 = 0.90, macro-F1 = (36/38)/3 = 0.315789.
# p_f1: 14 A right, 4 A answered C, B and C right: accuracy 16/20 = 0.80;
#   F1(A) = 28/(28+0+4) = 0.875, F1(B) = 1, F1(C) = 2/(2+4) = 0.333333,
#   macro-F1 = (0.875 + 1 + 0.333333)/3 = 0.736111: the baseline on macro-F1.
P_F1_DEV = ["A"] * 14 + ["C"] * 4 + ["B", "C"]


def _records() -> list[Record]:
    return (_cell("p_acc", "dev", DEV_GOLD, ["A"] * 20)
            + _cell("p_f1", "dev", DEV_GOLD, P_F1_DEV)
            + _cell("ft", "dev", DEV_GOLD, ["A"] * 20)
            + _cell("p_acc", "test", TEST_GOLD, ["A"] * 100)
            + _cell("p_f1", "test", TEST_GOLD, BASE_TEST)
            + _cell("ft", "test", TEST_GOLD, ["A"] * 100))


def _run(metric: str = "macro_f1") -> RunRow:
    return RunRow("run-1", "2026-01-01T00:00:00+00:00", None, "done", "cfg.yaml", "dg",
                  _config(metric), 0)


def test_macro_f1_task_is_decided_on_macro_f1_not_accuracy() -> None:
    res = results_json(_run(), _records())
    (task,) = res["tasks"]
    assert (task["metric"], task["score_kind"]) == ("macro_f1", "corpus")
    # Baseline chosen on dev by macro-F1 (accuracy would choose p_acc, 0.90 > 0.80).
    assert task["baseline"] == "p_f1"
    assert task["baseline_reason"] == "highest dev score 0.736 (vs p_acc 0.316)"
    by = {v["name"]: v for v in task["variants"]}
    assert by["p_f1"]["score"] == pytest.approx(BASE_F1)
    assert by["ft"]["score"] == pytest.approx(CAND_F1)
    assert by["p_f1"]["metrics"]["accuracy"] == pytest.approx(0.70)
    assert by["ft"]["metrics"]["accuracy"] == pytest.approx(0.90)
    assert by["p_f1"]["ci_low"] < BASE_F1 < by["p_f1"]["ci_high"]
    comp = next(c for c in task["comparisons"] if c["candidate"] == "ft")
    assert comp["delta"] == pytest.approx(CAND_F1 - BASE_F1)  # -0.367544
    # Nearly every paired resample has a negative difference. The exceptions are the
    # resamples without a B row (chance 0.95^100 = 0.6%): F1(B) is then 0/0 = 0 for
    # the baseline too, which costs it 1/3. So p ~ 2 x 0.006 ~ 0.01, well below 0.05.
    assert comp["ci_high"] < 0 and comp["p_value"] < 0.02
    assert comp["test"] == "paired_bootstrap" and "macro_f1 recomputed" in comp["note"]
    # Per example (label correctness): ft wins the 30 A rows p_f1 answered C, loses 10.
    assert (comp["wins"], comp["losses"], comp["ties"]) == (30, 10, 60)
    assert task["candidate"] == "ft"
    assert task["verdict"]["label"] == str(TOO_SMALL)
    assert exit_code(_label(task["verdict"])) == 1
    # Economics: error rate = 1 - macro-F1; (0.316667 - 0.684211) x 1000 calls x $1
    # = -$367.54 a month (on accuracy it would have been +$200).
    assert task["economics"]["error_saving_usd"] == pytest.approx(
        ((1 - BASE_F1) - (1 - CAND_F1)) * 1000)
    assert task["economics"]["error_saving_usd"] == pytest.approx(-367.544, abs=1e-3)


def test_accuracy_task_is_unchanged() -> None:
    (task,) = results_json(_run("accuracy"), _records())["tasks"]
    # Dev accuracy: p_acc 0.90 > p_f1 0.80, so p_acc is the baseline; ft ties it on test.
    assert task["baseline"] == "p_acc"
    assert task["metric"] == "accuracy" and task["score_kind"] == "binary"
    comp = next(c for c in task["comparisons"] if c["candidate"] == "ft")
    assert comp["delta"] == 0.0 and comp["test"] == "mcnemar_exact"


def test_bootstrap_p_value_by_hand() -> None:
    # Five resampled differences, one on the far side of zero (-1):
    # p = 2 * min(#{<= 0} = 1, #{>= 0} = 4) / (5 - 1) = 0.5.
    assert bootstrap_p_value(np.array([-1.0, 1.0, 2.0, 3.0, 4.0])) == 0.5
    # None on the far side: the floor 1 / (B - 1) = 0.25, never zero.
    assert bootstrap_p_value(np.array([1.0, 1.0, 2.0, 3.0, 4.0])) == 0.25
    # Balanced: capped at 1.
    assert bootstrap_p_value(np.array([-1.0, 1.0, -2.0, 2.0, 0.0])) == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS),
                          st.sampled_from(LABELS)), min_size=3, max_size=30),
       st.integers(0, 2**32 - 1), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_interval_excludes_zero_exactly_when_the_test_rejects(
        rows: list[tuple[str, str, str]], seed: int, confidence: float) -> None:
    gold, pa, pb = zip(*rows, strict=True)
    a = label_counts(gold, pa, LABELS)
    b = label_counts(gold, pb, LABELS)
    c = corpus_compare(MACRO, a, b, np.random.default_rng(seed), resamples=199,
                       confidence=confidence)
    if math.isnan(c.ci_low):
        return  # every resample gave the same difference: no interval, no claim
    excludes = c.ci_low > 0 or c.ci_high < 0
    assert excludes == (c.p_value <= 1 - confidence + 1e-12)


def test_identical_variants_have_no_zero_width_interval() -> None:
    s = label_counts(TEST_GOLD, BASE_TEST, LABELS)
    c = corpus_compare(MACRO, s, s.copy(), np.random.default_rng(1))
    assert c.delta == 0.0 and math.isnan(c.ci_low) and math.isnan(c.ci_high)
    assert c.n_needed is None and "interval undefined" in c.note


def test_interval_and_power_of_a_real_difference() -> None:
    a = label_counts(TEST_GOLD, BASE_TEST, LABELS)
    b = label_counts(TEST_GOLD, ["A"] * 100, LABELS)
    c = corpus_compare(MACRO, a, b, np.random.default_rng(2), min_gain=0.02)
    assert c.n == 100 and c.mde > 0 and c.n_needed is not None
    iv = corpus_interval(MACRO, a, np.random.default_rng(3))
    assert iv.estimate == pytest.approx(BASE_F1) and iv.low < iv.estimate < iv.high


def test_samples_weigh_one_over_k() -> None:
    # gold A (samples answer A, B: weight 1/2 each) and gold B (one sample, B):
    # A: tp 0.5, fn 0.5 -> 1/(1 + 0.5) = 2/3; B: tp 1, fp 0.5 -> 2/2.5 = 0.8;
    # macro-F1 = (2/3 + 0.8) / 2 = 0.733333.
    ids, stats = example_stats(MACRO, ["A", "B"], ["e1", "e1", "e2"], ["A", "A", "B"],
                               ["A", "B", "B"])
    assert ids == ["e1", "e2"]
    assert float(MACRO.value(stats.sum(0))) == pytest.approx((2 / 3 + 0.8) / 2)


_labels = st.sampled_from(["A", "B", "C"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_labels, st.one_of(st.none(), _labels)), min_size=1, max_size=40))
def test_macro_f1_matches_scikit_learn(pairs: list[tuple[str, str | None]]) -> None:
    gold = [g for g, _ in pairs]
    pred = [p for _, p in pairs]
    ours = float(macro_f1_value(label_counts(gold, pred, LABELS).sum(0)))
    theirs = f1_score(gold, [p if p is not None else "<invalid>" for p in pred],
                      labels=LABELS, average="macro", zero_division=0)
    assert ours == pytest.approx(theirs)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_labels, st.lists(_labels, min_size=1, max_size=4)), min_size=1,
                max_size=15))
def test_sample_weights_match_scikit_learn(rows: list[tuple[str, list[str]]]) -> None:
    ids, gold, pred, weight = [], [], [], []
    for i, (g, preds) in enumerate(rows):
        for p in preds:
            ids.append(f"e{i}")
            gold.append(g)
            pred.append(p)
            weight.append(1 / len(preds))
    _, stats = example_stats(MACRO, LABELS, ids, gold, pred)
    theirs = f1_score(gold, pred, labels=LABELS, average="macro", zero_division=0,
                      sample_weight=weight)
    assert float(MACRO.value(stats.sum(0))) == pytest.approx(theirs)


def test_history_and_nightly_regression_use_macro_f1(tmp_path) -> None:
    # Night 1 answers like p_f1 (macro-F1 0.683333, accuracy 0.70); night 2 always
    # answers A (macro-F1 0.315789, accuracy 0.90). On accuracy night 2 looks 20 points
    # better; on the task's metric it is a drop of 0.367544: one regression.
    store = Store(tmp_path / "st")
    config = _config() | {"spec": {"name": "nightly", "seed": 0}}
    for run_id, preds in (("n1", BASE_TEST), ("n2", ["A"] * 100)):
        store.create_run(run_id, "cfg.yaml", "cd", config)
        for rec in _cell("p_f1", "test", TEST_GOLD, preds):
            store.put_record(dataclasses.replace(rec, run_id=run_id))
        store.finish_run(run_id, "done", 0)
    rows = history(store)
    assert [r.score for r in rows] == [pytest.approx(BASE_F1), pytest.approx(CAND_F1)]
    (reg,) = regressions(store, "n2")[0]
    assert reg.delta == pytest.approx(CAND_F1 - BASE_F1) and reg.ci_high < 0
    store.close()
