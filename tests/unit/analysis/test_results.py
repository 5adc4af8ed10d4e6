"""build_results: from stored records to results.json, baseline chosen on dev."""

from __future__ import annotations

import math

import pytest

from harness.analysis.results import build_results, choose_baseline
from harness.report.markdown import render_markdown
from harness.store import Record, RunRow
from tests.unit.resultskit import results_json

MODEL = "fake:keyword"


def _run(variants=(("p1", "prompt"), ("p2", "prompt")), models=(MODEL,), tasks=("toy",)):
    config = {"spec": {"seed": 3, "analysis": {"resamples": 200, "confidence": 0.9}},
              "tasks": [{"name": t, "labels": ["A", "B"]} for t in tasks],
              "variants": [{"name": n, "kind": k} for n, k in variants],
              "models": list(models)}
    return RunRow("run-1", "2026-01-01T00:00:00+00:00", None, "done", "cfg.yaml", "digest",
                  config, 12)


def _rec(variant, split, ex_id, gold, pred, *, model=MODEL, error=None, tokens=10,
         value="auto"):
    if value == "auto":
        value = 1.0 if pred == gold else 0.0
    scores = {} if error else {"label_accuracy": {"value": value, "explanation": "",
                                                  "detail": {}}}
    output = {} if error else {"text": pred or "junk", "prediction": pred, "detail": {}}
    return Record("run-1", "toy", "tdig", variant, model, split, ex_id, 0, gold, output,
                  scores, tokens, 1, 0.01, False, error)


def _cell(variant, split, golds, preds, **kw):
    return [_rec(variant, split, f"{split}{i}", g, p, **kw)
            for i, (g, p) in enumerate(zip(golds, preds, strict=True))]


GOLD_DEV, GOLD_TEST = ["A", "B", "A", "B"], ["A", "B", "A", "B", "A"]


def _dev_best_is_not_test_best():
    # p1: dev 4/4, test 1/5. p2: dev 2/4, test 5/5.
    return (_cell("p1", "dev", GOLD_DEV, GOLD_DEV)
            + _cell("p1", "test", GOLD_TEST, ["A", "A", "B", "A", "B"])
            + _cell("p2", "dev", GOLD_DEV, ["A", "A", "A", "A"])
            + _cell("p2", "test", GOLD_TEST, GOLD_TEST))


def test_top_level_fields():
    res = results_json(_run(), _dev_best_is_not_test_best())
    assert {k: res[k] for k in ("schema", "run_id", "created", "config_digest", "config_path",
                                "status", "model_calls", "seed", "confidence", "resamples")} == {
        "schema": 2, "run_id": "run-1", "created": "2026-01-01T00:00:00+00:00",
        "config_digest": "digest", "config_path": "cfg.yaml", "status": "done",
        "model_calls": 12, "seed": 3, "confidence": 0.9, "resamples": 200}
    (task,) = res["tasks"]
    assert (task["task"], task["family"], task["metric"]) == ("toy", "classification",
                                                              "accuracy")


def test_baseline_is_the_best_prompt_on_dev_not_on_test():
    (task,) = results_json(_run(), _dev_best_is_not_test_best())["tasks"]
    assert task["baseline"] == "p1"
    assert task["baseline_reason"] == "highest dev score 1.000 (vs p2 0.500)"
    by = {v["name"]: v for v in task["variants"]}
    assert (by["p1"]["score"], by["p1"]["dev_score"]) == (pytest.approx(0.2), 1.0)
    assert (by["p2"]["score"], by["p2"]["dev_score"]) == (1.0, 0.5)
    (c,) = task["comparisons"]
    assert (c["baseline"], c["candidate"], c["n"]) == ("p1", "p2", 5)
    assert c["delta"] == pytest.approx(0.8)
    assert (c["wins"], c["losses"], c["ties"], c["unpaired_dropped"]) == (4, 0, 1, 0)
    assert c["ci_low"] <= c["delta"] <= c["ci_high"]


def test_variant_entry_metrics_and_confusion():
    (task,) = results_json(_run(), _dev_best_is_not_test_best())["tasks"]
    p1 = next(v for v in task["variants"] if v["name"] == "p1")
    assert (p1["kind"], p1["model"], p1["n"], p1["errors"]) == ("prompt", MODEL, 5, 0)
    assert p1["metrics"]["accuracy"] == pytest.approx(0.2)
    assert p1["metrics"]["invalid_rate"] == 0.0
    assert p1["confusion"] == {"labels": ["A", "B"], "matrix": [[1, 2], [2, 0]]}
    assert p1["prompt_tokens_mean"] == 10.0 and p1["completion_tokens_mean"] == 1.0
    assert p1["per_label"]["A"]["support"] == 3


def test_deterministic_and_in_config_order():
    recs = _dev_best_is_not_test_best()
    res = results_json(_run(), recs)
    # The store yields records sorted by variant then example; cells may come in any order.
    p2_first = [r for r in recs if r.variant == "p2"] + [r for r in recs if r.variant == "p1"]
    assert res == results_json(_run(), p2_first)
    flipped = results_json(_run(variants=(("p2", "prompt"), ("p1", "prompt"))), recs)
    assert [v["name"] for v in res["tasks"][0]["variants"]] == ["p1", "p2"]
    assert [v["name"] for v in flipped["tasks"][0]["variants"]] == ["p2", "p1"]


def test_finetuned_variant_is_never_the_baseline():
    recs = _dev_best_is_not_test_best() + _cell("ft", "dev", GOLD_DEV, GOLD_DEV, tokens=1) \
        + _cell("ft", "test", GOLD_TEST, GOLD_TEST)
    run = _run(variants=(("p1", "prompt"), ("p2", "prompt"), ("ft", "finetune")))
    (task,) = results_json(run, recs)["tasks"]
    assert task["baseline"] == "p1"
    assert {c["candidate"] for c in task["comparisons"]} == {"p2", "ft"}
    assert next(v for v in task["variants"] if v["name"] == "ft")["kind"] == "finetune"


def test_dev_tie_goes_to_the_shorter_prompt_then_the_name():
    recs = (_cell("p2", "dev", GOLD_DEV, GOLD_DEV, tokens=50)
            + _cell("p1", "dev", GOLD_DEV, GOLD_DEV, tokens=90)
            + _cell("p1", "test", GOLD_TEST, GOLD_TEST) + _cell("p2", "test", GOLD_TEST,
                                                                GOLD_TEST))
    assert results_json(_run(), recs)["tasks"][0]["baseline"] == "p2"
    assert choose_baseline({"b": 0.5, "a": 0.5}, {"a": 3, "b": 3}, ["b", "a"])[0] == "a"


def test_no_dev_scores_uses_the_first_prompt_variant():
    name, why = choose_baseline({}, {}, ["zero", "few"])
    assert name == "zero"
    assert "no dev scores" in why and "not chosen on test" in why
    recs = _cell("p1", "test", GOLD_TEST, GOLD_TEST) + _cell("p2", "test", GOLD_TEST, GOLD_TEST)
    # "first listed" means first in the config, whatever order the records come in.
    run = _run(variants=(("p2", "prompt"), ("p1", "prompt")))
    (task,) = results_json(run, recs)["tasks"]
    assert task["baseline"] == "p2"
    assert [v["name"] for v in task["variants"]] == ["p2", "p1"]
    assert "dev_score" not in task["variants"][0]


def test_errors_are_counted_and_unpaired_examples_dropped():
    recs = _dev_best_is_not_test_best()
    recs = [r for r in recs if not (r.variant == "p2" and r.example_id == "test4")]
    recs.append(_rec("p2", "test", "test4", "A", None, error="transient: boom"))
    (task,) = results_json(_run(), recs)["tasks"]
    p2 = next(v for v in task["variants"] if v["name"] == "p2")
    assert (p2["n"], p2["errors"]) == (4, 1)
    (c,) = task["comparisons"]
    assert (c["n"], c["unpaired_dropped"]) == (4, 1)


def test_invalid_predictions_and_unscored_examples():
    recs = (_cell("p1", "dev", GOLD_DEV, GOLD_DEV)
            + _cell("p1", "test", GOLD_TEST, ["A", None, None, "B", "A"])
            + [_rec("p1", "test", "test9", "B", "B", value=None)])
    (task,) = results_json(_run(variants=(("p1", "prompt"),)), recs)["tasks"]
    (v,) = task["variants"]
    assert v["n"] == 5  # the unscored example is not in the mean
    assert v["score"] == pytest.approx(3 / 5)
    assert v["metrics"]["invalid_rate"] == pytest.approx(2 / 6)
    assert v["confusion"]["labels"] == ["A", "B", "<invalid>"]
    assert task["note"] == "only one variant: no comparison is possible"
    assert task["comparisons"] == []


def test_multi_model_names_and_task_without_records():
    recs = (_cell("p1", "dev", GOLD_DEV, GOLD_DEV, model="fake:keyword")
            + _cell("p1", "dev", GOLD_DEV, GOLD_DEV[:2] + ["B", "A"], model="fake:flaky")
            + _cell("p1", "test", GOLD_TEST, GOLD_TEST, model="fake:keyword")
            + _cell("p1", "test", GOLD_TEST, GOLD_TEST, model="fake:flaky"))
    run = _run(variants=(("p1", "prompt"),), models=("fake:keyword", "fake:flaky"),
               tasks=("toy", "empty"))
    toy, empty = results_json(run, recs)["tasks"]
    assert toy["baseline"] == "p1@fake:keyword"
    assert {v["name"]: v["model"] for v in toy["variants"]} == {
        "p1@fake:keyword": "fake:keyword", "p1@fake:flaky": "fake:flaky"}
    assert [c["candidate"] for c in toy["comparisons"]] == ["p1@fake:flaky"]
    assert empty["baseline"] is None and empty["note"] == "no records"
    assert empty["variants"] == [] and empty["comparisons"] == []


def test_variant_without_test_records_does_not_crash():
    recs = _cell("p1", "dev", GOLD_DEV, GOLD_DEV) + _cell("p2", "dev", GOLD_DEV, GOLD_DEV[::-1])
    (task,) = results_json(_run(), recs)["tasks"]
    assert task["baseline"] == "p1"
    assert all(v["n"] == 0 and math.isnan(v["score"]) for v in task["variants"])
    assert all(math.isnan(v["metrics"]["accuracy"]) for v in task["variants"])
    (c,) = task["comparisons"]
    assert c["n"] == 0 and c["note"] == "fewer than 2 paired examples"


def test_economics_that_cannot_be_priced_is_a_note_not_a_crash():
    # cost_per_error prices errors avoided, but every test output of the candidate failed,
    # so its error rate is unknown: the task keeps its verdict (INCONCLUSIVE: 0 pairs) and
    # says why there is no economics, instead of a ValueError out of the gate.
    run = _run(variants=(("p1", "prompt"), ("ft", "lora")))
    run.config["spec"]["economics"] = {"price_in_per_mtok": 1.0, "price_out_per_mtok": 1.0,
                                       "calls_per_month": 1000, "cost_per_error": 0.01,
                                       "labelling_cost_per_example": 0.0,
                                       "gpu_price_per_hour": 1.0, "training_hours": 0.5}
    recs = (_cell("p1", "dev", GOLD_DEV, GOLD_DEV) + _cell("p1", "test", GOLD_TEST, GOLD_TEST)
            + _cell("ft", "dev", GOLD_DEV, GOLD_DEV)
            + _cell("ft", "test", GOLD_TEST, GOLD_TEST, error="transient: boom"))
    task = results_json(run, recs)["tasks"][0]
    assert task["economics"] is None
    assert task["economics_note"].startswith("economics not computed: error_rate is missing")
    assert task["verdict"]["label"].startswith("INCONCLUSIVE")
    results = build_results(run, recs)
    assert "Note: economics not computed: error_rate is missing" in render_markdown(results)
