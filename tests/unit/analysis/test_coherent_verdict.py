"""From stored records to the verdict and the gate's exit code: one coherent inference.

Issue 14 case 3 (a degenerate interval decided the verdict) and issue 18 cases 1 and 2
(the gate passed although its own test was not significant; Holm computed and ignored).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.analysis.families import field_accuracy, scorer_summaries
from harness.analysis.intervals import wilson_interval
from harness.analysis.paired import mean_ci, paired_bootstrap_many, paired_difference
from harness.analysis.results import build_results
from harness.analysis.stats import compare
from harness.analysis.verdict import JUSTIFIED, decide, exit_code
from harness.history import regressions
from harness.report.markdown import render_markdown
from harness.store import Record, RunRow, Store
from tests.unit.resultskit import contract, results_json
from tests.unit.resultskit import label_of as _label

MODEL = "fake:keyword"


def _run(tasks: tuple[str, ...], decision: dict, confidence: float = 0.95) -> RunRow:
    config = {"spec": {"seed": 3, "analysis": {"resamples": 300, "confidence": confidence},
                       "decision": decision},
              "tasks": [{"name": t, "labels": ["A", "B"]} for t in tasks],
              "variants": [{"name": "prompt", "kind": "prompt"},
                           {"name": "lora", "kind": "lora"}],
              "models": [MODEL]}
    return RunRow("run-1", "2026-01-01T00:00:00+00:00", None, "done", "cfg.yaml", "digest",
                  config, 0)


def _recs(task: str, variant: str, split: str, right: list[bool]) -> list[Record]:
    out = []
    for i, ok in enumerate(right):
        scores = {"label_accuracy": {"value": 1.0 if ok else 0.0, "explanation": "",
                                     "detail": {}}}
        out.append(Record("run-1", task, "tdig", variant, MODEL, split, f"{split}{i}", 0, "A",
                          {"text": "A" if ok else "B", "prediction": "A" if ok else "B",
                           "detail": {}}, scores, 10, 1, 0.01, False, None))
    return out


def _task(task: str, base: list[bool], cand: list[bool]) -> list[Record]:
    dev = [True, False, True, False]
    return (_recs(task, "prompt", "dev", dev) + _recs(task, "lora", "dev", dev)
            + _recs(task, "prompt", "test", base) + _recs(task, "lora", "test", cand))


def _decided(res: dict, task: str = "t") -> tuple[dict, dict]:
    entry = next(t for t in res["tasks"] if t["task"] == task)
    comp = next(c for c in entry["comparisons"] if c["candidate"] == entry["candidate"])
    return entry, comp


def test_issue14_case3_all_agree_is_inconclusive_not_too_small() -> None:
    # 12 test examples, both variants right on all. Old: CI [+0.0, +0.0], "NOT JUSTIFIED: gain
    # too small", exit 1. Right: the melded exact interval is +/- (1 - 0.025**(1/12)) =
    # +/- 0.2646, it straddles min_gain 0.02: INCONCLUSIVE, exit 3. Examples to add: the
    # planning sd is sqrt(3/12) = 0.5 (rule of three), MDE = 2.8016 * 0.5 / sqrt(12) = 0.404,
    # the distance to min_gain floored at MDE/4 = 0.101, n_needed = (2.8016 * 0.5 / 0.101)^2
    # = 16 * 12 = 192, so 192 - 12 = 180 more.
    res = results_json(_run(("t",), {"min_gain": 0.02}), _task("t", [True] * 12, [True] * 12))
    entry, comp = _decided(res)
    assert (comp["ci_low"], comp["ci_high"]) == pytest.approx((-0.26465, 0.26465), abs=1e-5)
    assert comp["p_value"] == 1.0 and comp["n_needed"] == 192
    assert entry["verdict"]["label"] == "INCONCLUSIVE: need ~180 more examples"
    assert exit_code(_label(res["verdict"])) == 3
    # Each variant's own accuracy, 12/12: Wilson [0.7575, 1], not [1, 1].
    for v in entry["variants"]:
        assert (v["ci_low"], v["ci_high"]) == pytest.approx((0.75751, 1.0), abs=1e-5)


def test_issue14_case3_at_two_examples() -> None:
    # min_examples: 2, n = 2, both right on both: +/- (1 - sqrt(0.025)) = +/- 0.8419;
    # planning sd 1 (3/2 capped at 1), n_needed = 16 * 2 = 32: 30 more.
    res = results_json(_run(("t",), {"min_gain": 0.02, "min_examples": 2}),
                        _task("t", [True] * 2, [True] * 2))
    entry, comp = _decided(res)
    assert (comp["ci_low"], comp["ci_high"]) == pytest.approx((-0.84189, 0.84189), abs=1e-5)
    assert entry["verdict"]["label"] == "INCONCLUSIVE: need ~30 more examples"


@pytest.mark.parametrize("min_gain", [0.0, 0.02])
def test_issue18_case1_not_significant_is_inconclusive(min_gain: float) -> None:
    # 40 examples; the candidate right on 5 where the baseline is wrong, never the reverse.
    # Exact McNemar p = 2 * 0.5**5 = 0.0625 >= 0.05, so the compatible interval contains 0:
    # INCONCLUSIVE, exit 3 (old: FINE-TUNE JUSTIFIED on a bootstrap lower bound, exit 0).
    # Planning sd sqrt(5/40) = 0.354; n_needed = (2.8016 * 0.354 / d)^2 with d the distance
    # of the gain 0.125 to min_gain: d = 0.125 -> 62.8 -> 63 (23 more); d = 0.105 -> 89.0
    # -> 89 (49 more).
    base = [True] * 20 + [False] * 20
    cand = [True] * 25 + [False] * 15
    res = results_json(_run(("t",), {"min_gain": min_gain}), _task("t", base, cand))
    entry, comp = _decided(res)
    assert comp["p_value"] == 0.0625 and comp["test"] == "mcnemar_exact"
    assert comp["ci_low"] < 0 < comp["ci_high"]
    more = {0.0: 23, 0.02: 49}[min_gain]
    assert entry["verdict"]["label"] == f"INCONCLUSIVE: need ~{more} more examples"
    assert "p=0.062" in entry["verdict"]["reason"]
    assert exit_code(_label(res["verdict"])) == 3


def _six_wins() -> tuple[list[bool], list[bool]]:
    return [True] * 20 + [False] * 20, [True] * 26 + [False] * 14


def test_issue18_case2_holm_decides_with_three_tasks() -> None:
    # Three tasks, each 6 wins and 0 losses of 40: raw p = 2 * 0.5**6 = 0.03125, Holm
    # 3 x 0.03125 = 0.094 for all. The intervals are at 1 - 0.05/3 = 98.3% and contain 0:
    # every task INCONCLUSIVE, exit 3 (old: each passed, showing p(Holm) 0.094).
    base, cand = _six_wins()
    names = ("t1", "t2", "t3")
    res = results_json(_run(names, {"min_gain": 0.0}),
                        [r for t in names for r in _task(t, base, cand)])
    for name in names:
        entry, comp = _decided(res, name)
        assert comp["p_value"] == 0.03125
        assert comp["p_holm"] == pytest.approx(0.09375)
        assert comp["confidence"] == pytest.approx(1 - 0.05 / 3)
        assert comp["ci_low"] < 0
        assert entry["verdict"]["label"].startswith("INCONCLUSIVE")
        assert "98.3% CI" in entry["verdict"]["reason"]
    assert exit_code(_label(res["verdict"])) == 3


def test_issue18_case2_one_task_is_unadjusted() -> None:
    # The same task alone: p = 0.03125 < 0.05 and the 95% interval's lower bound is above 0
    # (0.0097): with min_gain 0 it is justified, as before.
    base, cand = _six_wins()
    res = results_json(_run(("t",), {"min_gain": 0.0}), _task("t", base, cand))
    entry, comp = _decided(res)
    assert comp["p_holm"] == 0.03125 and comp["confidence"] == 0.95
    assert comp["ci_low"] > 0
    assert entry["verdict"]["label"] == str(JUSTIFIED)
    assert exit_code(_label(res["verdict"])) == 0


def test_other_comparisons_are_their_own_family() -> None:
    # A second prompt variant does not widen the candidate's interval (its comparison is
    # in the other family); a one-task run's decision stays a single, unadjusted test.
    base, cand = _six_wins()
    run = _run(("t",), {"min_gain": 0.0})
    run.config["variants"].insert(1, {"name": "prompt2", "kind": "prompt"})
    recs = _task("t", base, cand) + _recs("t", "prompt2", "dev", [False] * 4) \
        + _recs("t", "prompt2", "test", cand)
    entry, comp = _decided(results_json(run, recs))
    assert comp["confidence"] == 0.95 and entry["verdict"]["label"] == str(JUSTIFIED)


def test_continuous_identical_scores_are_inconclusive_with_a_stated_plan() -> None:
    # A continuous metric on which both variants score the same on every example: no
    # interval (NaN, with a note), INCONCLUSIVE, and a planning sd of sqrt(3/12) = 0.5.
    ids = [f"e{i}" for i in range(12)]
    scores = list(np.linspace(0.2, 0.9, 12))
    c = compare(ids, scores, ids, scores, "continuous", np.random.default_rng(0),
                min_gain=0.02)
    assert math.isnan(c.ci_low) and math.isnan(c.ci_high) and math.isnan(c.p_value)
    assert "no interval" in c.note and "rule of three" in c.note
    assert c.n_needed == 192 and c.mde == pytest.approx(0.4044, abs=1e-4)
    v = decide(c, None, min_gain=0.02, max_payback_months=12)
    # n_needed 192 - n 12 = 180, carried by the label as a field.
    assert str(v.label) == "INCONCLUSIVE: need ~180 more examples"
    assert v.label.examples_needed == 180
    assert "no interval" in v.reason


def _night(store: Store, run_id: str, scores: dict[str, list[float]]) -> None:
    config = {"spec": {"name": "nightly", "seed": 0},
              "tasks": [{"name": "t", "family": "classification"}],
              "variants": [{"name": v, "kind": "prompt"} for v in scores], "models": ["m"]}
    store.create_run(run_id, "cfg.yaml", "cfgdigest", config)
    for variant, values in scores.items():
        for i, s in enumerate(values):
            store.put_record(Record(run_id, "t", "d1", variant, "m", "test", f"e{i}", 0, "A",
                                    {"text": "A", "prediction": "A"},
                                    {"label_accuracy": {"value": s, "explanation": "",
                                                        "detail": {}}}, 5, 1, 0.1, False,
                                    None))
    store.finish_run(run_id, "done", 0)


def test_nightly_regression_uses_the_holm_level(tmp_path) -> None:
    # Each variant loses 6 examples it had right, gains none (of 40): raw McNemar p = 0.03125.
    # Alone that is a regression; with three variants Holm gives 0.094 and the 98.3%
    # intervals contain 0: no alert.
    before, after = [1.0] * 20 + [0.0] * 20, [1.0] * 14 + [0.0] * 26
    store = Store(tmp_path / "st")
    try:
        _night(store, "r1", {"v": before})
        _night(store, "r2", {"v": after})
        (reg,) = regressions(store, "r2")[0]
        assert reg.p_holm == 0.03125 and reg.ci_high < 0 and reg.confidence == 0.95
        three = {"a": before, "b": before, "c": before}
        _night(store, "r3", three)
        _night(store, "r4", {k: after for k in three})
        assert regressions(store, "r4", against="r3")[0] == []
    finally:
        store.close()


# --- the other places of the kind ------------------------------------------------------


def test_holm_level_is_shown_in_the_markdown_report() -> None:
    base, cand = _six_wins()
    names = ("t1", "t2", "t3")
    res = build_results(_run(names, {"min_gain": 0.0}),
                        [r for t in names for r in _task(t, base, cand)])
    text = render_markdown(res)
    assert text.count(" at 98.3% |") == 3
    assert "by paired bootstrap" not in text
    _, comp = _decided(contract(res), "t1")
    assert comp["note"].startswith("98.3% interval: Holm's level")


def test_scorer_and_field_intervals_are_wilson_for_0_1_scores() -> None:
    # 12 of 12 right: [0.7575, 1] (was [1, 1]); 0 of 12: [0, 0.2425].
    rng = np.random.default_rng(0)
    maps = [{"exact_match": {"value": 1.0}, "field_f1": {"value": 0.5}}] * 12
    out = scorer_summaries(maps, rng, 200, 0.95)
    assert (out["exact_match"]["ci_low"], out["exact_match"]["ci_high"]) == pytest.approx(
        (0.75751, 1.0), abs=1e-5)
    # A continuous scorer at the same value everywhere: no bootstrap interval (NaN).
    assert math.isnan(out["field_f1"]["ci_low"]) and out["field_f1"]["mean"] == 0.5
    fields = field_accuracy(['{"a": 1}'] * 12, [{"prediction": '{"a": 2}'}] * 12, rng, 200,
                            0.95)
    assert (fields["/a"]["ci_low"], fields["/a"]["ci_high"]) == pytest.approx(
        (0.0, 0.24249), abs=1e-5)


def test_descriptive_bootstraps_do_not_collapse() -> None:
    rng = np.random.default_rng(0)
    ids = [f"e{i}" for i in range(10)]
    d = paired_difference(ids, [0.5] * 10, ids, [0.7] * 10, rng)
    assert d.delta == pytest.approx(0.2) and math.isnan(d.low) and math.isnan(d.high)
    assert "every value is the same" in d.note
    flat, varied = paired_bootstrap_many(np.c_[np.full(10, 0.2), np.arange(10.0)], rng, 200)
    assert math.isnan(flat.low) and "every value is the same" in flat.note
    assert varied.low < 4.5 < varied.high
    ci = mean_ci([1.0, 0.0, 1.0, 1.0], rng)  # 3 of 4: Wilson, no resampling
    assert (ci.low, ci.high) == pytest.approx(wilson_interval(3, 4))
