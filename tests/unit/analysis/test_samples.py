"""Issue 18 case 7: several samples per example mean the same number in every command.

One definition (:mod:`harness.analysis.metric`): the mean over an example's
samples, then the mean over examples. The report, ``history``, the nightly
regression check, ``export``, ``compare-base`` and the side-by-side table
all follow it.

The hand-worked run: 30 examples x 4 samples (temperature 1.0).
- e0..e15 score [1, 1, 1, 1]  -> 1.0  (16 examples)
- e16..e18 score [0, 0, 0, 1] -> 0.25 (3 examples)
- e19..e28 score [0, 0, 0, 0] -> 0.0  (10 examples)
- e29 scores [0, 0, 0] and its fourth sample failed (no score) -> 0.0
Mean over examples = (16 x 1 + 3 x 0.25) / 30 = 16.75 / 30 = 0.558333: 55.8%.
The last sample of each example (what history kept) gives 19 / 30 = 63.3%, and
the flat mean over the 119 scored samples gives 67 / 119 = 56.3%: both wrong.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from harness.analysis.metric import example_means, mean_over_examples
from harness.analysis.results import build_results
from harness.compare_base import decide_task
from harness.export import records_frame
from harness.history import history, regressions
from harness.report.sidebyside import collect_examples
from harness.store import Record, RunRow, Store
from tests.unit.resultskit import results_json

RIGHT = 16.75 / 30  # 0.558333


def _pattern(i: int) -> list[float | None]:
    if i < 16:
        return [1.0, 1.0, 1.0, 1.0]
    if i < 19:
        return [0.0, 0.0, 0.0, 1.0]
    if i < 29:
        return [0.0, 0.0, 0.0, 0.0]
    return [0.0, 0.0, 0.0, None]  # the fourth sample failed


def _rec(run: str, variant: str, model: str, split: str, i: int, k: int,
         value: float | None) -> Record:
    if value is None:
        return Record(run, "t", "d1", variant, model, split, f"e{i}", k, "A", {}, {}, 5, 0,
                      0.1, False, "timeout")
    pred = "A" if value == 1.0 else "B"
    return Record(run, "t", "d1", variant, model, split, f"e{i}", k, "A",
                  {"text": pred, "prediction": pred, "detail": {}},
                  {"label_accuracy": {"value": value, "explanation": "", "detail": {}}},
                  5, 1, 0.1, False, None)


def _config(models: list[str], variants: list[dict]) -> dict:
    return {"spec": {"name": "nightly", "seed": 0, "samples": 4,
                     "analysis": {"resamples": 500, "confidence": 0.95}},
            "tasks": [{"name": "t", "family": "classification", "labels": ["A", "B"],
                       "metric": "accuracy", "primary": "label_accuracy"}],
            "variants": variants, "models": models}


def _records(run: str, pattern=_pattern, variant: str = "v", model: str = "m") -> list[Record]:
    return [_rec(run, variant, model, "test", i, k, value)
            for i in range(30) for k, value in enumerate(pattern(i))]


def _store_run(store: Store, run: str, records: list[Record]) -> None:
    store.create_run(run, "cfg.yaml", "cfgdigest",
                     _config(["m"], [{"name": "v", "kind": "prompt"}]))
    for rec in records:
        store.put_record(rec)
    store.finish_run(run, "done", 0)



def test_the_definition() -> None:
    ids = [f"e{i}" for i in range(30) for _ in range(4)]
    values = [math.nan if v is None else v for i in range(30) for v in _pattern(i)]
    assert mean_over_examples(ids, values) == pytest.approx(RIGHT)
    means = example_means(ids, values)
    assert means["e16"] == (0.25, 4) and means["e29"] == (0.0, 3)
    assert mean_over_examples(["a", "a"], [math.nan, math.nan]) is None


def test_report(store) -> None:
    run = RunRow("r1", "2026-01-01", None, "done", "cfg.yaml", "x",
                 _config(["m"], [{"name": "v", "kind": "prompt"}]), 0)
    (task,) = results_json(run, _records("r1"))["tasks"]
    (v,) = task["variants"]
    assert v["score"] == pytest.approx(RIGHT)  # 55.8%, not 63.3% or 56.3%
    assert v["metrics"]["accuracy"] == pytest.approx(RIGHT)
    assert (v["n"], v["errors"]) == (30, 1)


def test_history_and_regression(store) -> None:
    _store_run(store, "r1", _records("r1"))
    _store_run(store, "r2", _records("r2", lambda i: [0.0, 0.0, 0.0, 0.0]))
    rows = history(store)
    assert [(r.run_id, r.n) for r in rows] == [("r1", 30), ("r2", 30)]
    assert rows[0].score == pytest.approx(RIGHT)  # the report's 55.8%, not 63.3%
    assert rows[1].score == 0.0
    # The drop is the report's score, 0 - 0.558333, not 0 - 0.633333.
    (reg,) = regressions(store, "r2")[0]
    assert reg.delta == pytest.approx(-RIGHT)
    assert reg.line().startswith("REGRESSION t/v on m: -55.8 pp vs run r1")


def test_export(store) -> None:
    _store_run(store, "r1", _records("r1"))
    frame = records_frame(store, "r1")
    assert len(frame) == 120
    # The weighted mean of the rows is the report's score: 16.75 / 30.
    weighted = (frame["example_weight"] * frame["primary_score"].fillna(0)).sum()
    assert weighted / frame["example_weight"].sum() == pytest.approx(RIGHT)
    per_example = frame.drop_duplicates("example_id")["example_score"]
    assert per_example.mean() == pytest.approx(RIGHT)
    e29 = frame[frame["example_id"] == "e29"].sort_values("sample")
    assert list(e29["example_weight"]) == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0])
    assert set(frame.loc[frame["example_id"] == "e16", "example_score"]) == {0.25}
    assert pd.isna(e29["primary_score"].iloc[3])


def test_side_by_side_shows_the_mean_of_the_samples() -> None:
    run = RunRow("r1", "2026-01-01", None, "done", "cfg.yaml", "x",
                 _config(["m"], [{"name": "v", "kind": "prompt"}]), 0)
    rows = {r.example_id: r for r in collect_examples(run, _records("r1"))["t"].rows}
    # Sample 0 of e16 scored 0; the example's score is its mean over 4 samples, 0.25.
    assert (rows["e16"].cells["v"].score, rows["e16"].cells["v"].samples) == (0.25, 4)
    assert (rows["e29"].cells["v"].score, rows["e29"].cells["v"].samples) == (0.0, 3)


def test_compare_base_uses_the_same_definition() -> None:
    # Old base + adapter: the pattern above (0.558333). New base + prompt: every sample
    # equals the pattern's last sample, so 19/30 = 0.633333. Per example the differences
    # are 0 except e16..e18: 0.25 - 1 = -0.75, so the old adapter's advantage is
    # 3 x -0.75 / 30 = -0.075 = -7.5 pp (keeping last samples would say 0.0 pp). e29
    # still pairs: three of its four samples were scored.
    def last(i: int) -> list[float | None]:
        return [1.0 if i < 19 else 0.0] * 4

    variants = [{"name": "p", "kind": "prompt"}, {"name": "ft", "kind": "lora"}]
    recs = (_records("r", variant="ft", model="old") + _records("r", last, "p", "new")
            + [_rec("r", "p", "new", "dev", 0, 0, 1.0)])
    run = RunRow("r", "2026-01-01", None, "done", "cfg.yaml", "x",
                 _config(["old", "new"], variants), 0)
    (task,) = build_results(run, recs).tasks
    comp = task.comparison("ft@old")
    assert comp is not None and comp.delta == pytest.approx(-0.075)
    assert comp.n == 30
    decision = decide_task(task, "old", "new", 0.02)
    assert "-7.5 pp" in decision.reason


def test_every_scorer_table_field_accuracy_and_retrieval_average_examples_first() -> None:
    # A rag variant of a JSON task. e0: three samples, each right (field F1 1, recall@k 1).
    # e1: one scored sample, wrong (field F1 0, recall@k 0); its other two samples failed.
    # Mean over examples = (1 + 0) / 2 = 0.5 for each; the flat mean over the four
    # scored samples would be 3/4 = 0.75.
    def rec(i: int, k: int, right: bool | None) -> Record:
        gold = '{"a": "1"}' if i == 0 else '{"a": "3"}'
        if right is None:
            return Record("r", "f", "d", "v", "m", "test", f"e{i}", k, gold, {}, {}, 5, 0,
                          0.1, False, "timeout")
        value = 1.0 if right else 0.0
        pred = gold if right else '{"a": "2"}'
        scores = {n: {"value": value, "explanation": "", "detail": {}}
                  for n in ("field_f1", "exact_match")}
        detail = {"retriever": "bm25", "k": 1, "parse": "strict",
                  "retrieval": {"recall_at_k": value, "reciprocal_rank": value}}
        return Record("r", "f", "d", "v", "m", "test", f"e{i}", k, gold,
                      {"text": pred, "prediction": pred, "detail": detail}, scores, 5, 1, 0.1,
                      False, None)

    recs = [rec(0, k, True) for k in range(3)] + [rec(1, 0, False), rec(1, 1, None),
                                                 rec(1, 2, None)]
    config = {"spec": {"seed": 0, "analysis": {"resamples": 200, "confidence": 0.95}},
              "tasks": [{"name": "f", "family": "format", "metric": "field_f1",
                         "primary": "field_f1"}],
              "variants": [{"name": "v", "kind": "rag"}], "models": ["m"]}
    run = RunRow("r", "2026-01-01", None, "done", "cfg.yaml", "x", config, 0)
    (v,) = results_json(run, recs)["tasks"][0]["variants"]
    assert v["score"] == 0.5
    assert v["scorers"]["field_f1"]["mean"] == 0.5 and v["scorers"]["field_f1"]["n"] == 2
    assert v["scorers"]["exact_match"]["mean"] == 0.5
    assert v["metrics"]["field_f1"] == 0.5 and v["metrics"]["exact_match"] == 0.5
    assert v["fields"]["/a"]["accuracy"] == 0.5 and v["fields"]["/a"]["n"] == 2
    assert v["retrieval"]["recall_at_k"] == 0.5 and v["retrieval"]["mrr"] == 0.5
    assert v["retrieval"]["n_gold"] == 2


def test_per_label_rates_weigh_each_example_once() -> None:
    # Gold A for both. e0: three samples answer A. e1: one scored sample, invalid (None);
    # its two other samples failed. Each example weighs 1: recall(A) = (1 + 0) / 2 = 0.5,
    # invalid rate = (0 + 1) / 2 = 0.5, support(A) = 2 examples (flat: 3/4, 1/4, 4).
    def rec(i: int, k: int, pred: str | None, error: str | None = None) -> Record:
        value = None if error else (1.0 if pred == "A" else 0.0)
        return Record("r", "t", "d", "v", "m", "test", f"e{i}", k, "A",
                      {} if error else {"text": pred or "?", "prediction": pred},
                      {} if error else {"label_accuracy": {"value": value}},
                      5, 1, 0.1, False, error)

    recs = [rec(0, k, "A") for k in range(3)] + [rec(1, 0, None), rec(1, 1, None, "x"),
                                                rec(1, 2, None, "x")]
    run = RunRow("r", "2026-01-01", None, "done", "cfg.yaml", "x",
                 _config(["m"], [{"name": "v", "kind": "prompt"}]), 0)
    (v,) = results_json(run, recs)["tasks"][0]["variants"]
    assert v["score"] == 0.5 and v["metrics"]["accuracy"] == 0.5
    assert v["metrics"]["invalid_rate"] == 0.5
    assert v["per_label"]["A"]["recall"] == 0.5 and v["per_label"]["A"]["support"] == 2
