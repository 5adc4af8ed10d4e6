"""Report figures: PNGs from results dictionaries, defensive about missing numbers."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image

from harness.report.plots import (
    confusion_png,
    economics_png,
    forest_png,
    make_plots,
    matrix_png,
    num,
    payback_months,
    trend_png,
)
from tests.unit import resultskit as kit


def _variant(name, score=0.7, lo=0.6, hi=0.8, kind="prompt", n=50, labels=("A", "B")):
    k = len(labels)
    return {"name": name, "kind": kind, "score": score, "ci_low": lo, "ci_high": hi, "n": n,
            "errors": 0, "confusion": {"labels": list(labels),
                                       "matrix": [[3 if i == j else 1 for j in range(k)]
                                                  for i in range(k)]}}


def _task(name="toy", variants=None, comparisons=None, **extra):
    variants = variants if variants is not None else [_variant("p"), _variant("lora", 0.8)]
    comparisons = comparisons if comparisons is not None else [
        {"baseline": "p", "candidate": "lora", "delta": 0.1, "ci_low": 0.03, "ci_high": 0.17,
         "n": 50}]
    return kit.task({"task": name, "family": "classification", "metric": "accuracy",
                     "baseline": "p", "variants": variants, "comparisons": comparisons,
                     **extra})


def _results(*tasks, created="2026-01-02T03:04:05+00:00"):
    return kit.results({"run_id": "r", "created": created, "confidence": 0.95,
                        "tasks": list(tasks) or [_task()]})


def _image(png):
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(png))
    assert img.size[0] > 200 and img.size[1] > 100
    colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20  # something is drawn
    return img


ECON = {"baseline_monthly_cost_usd": 300.0, "candidate_monthly_cost_usd": 150.0,
        "one_off_cost_usd": 700.0, "maintenance_per_month_usd": 0.0, "horizon_months": 12,
        "payback_months": 700 / 150}


def test_num_reads_only_numbers():
    assert num(1) == 1.0 and num(0.5) == 0.5
    for bad in (None, "1", True, [1], float("nan")):
        assert math.isnan(num(bad))


def test_matrix_forest_and_confusion_draw():
    res = _results(_task(), _task("other", min_gain=0.05))
    _image(matrix_png(res))
    _image(forest_png(res))
    _image(confusion_png(res.tasks[0]))


def test_same_input_gives_same_bytes():
    res = _results()
    assert matrix_png(res) == matrix_png(res)
    assert forest_png(res) == forest_png(res)


@pytest.mark.parametrize("value", [None, math.nan])
def test_missing_numbers_do_not_crash(value):
    v = _variant("p", score=value, lo=value, hi=value, n=0)
    comp = {"baseline": "p", "candidate": "q", "delta": value, "ci_low": value,
            "ci_high": value, "n": 0}
    res = _results(_task(variants=[v, _variant("q", lo=value, hi=value)], comparisons=[comp]))
    _image(matrix_png(res))
    _image(forest_png(res))
    assert confusion_png(res.tasks[0]) is not None  # only q has examples


def test_nothing_to_show_is_none():
    empty = _results(_task(variants=[], comparisons=[]))
    assert matrix_png(empty) is None
    assert forest_png(empty) is None
    assert confusion_png(empty.tasks[0]) is None
    assert trend_png(empty, [empty]) is None
    assert trend_png(_results(), []) is None
    assert confusion_png(_task(family="format")) is None
    assert forest_png(_results(_task(comparisons=[]))) is None


def test_many_labels_and_dollar_signs():
    labels = [f"label_{i}" for i in range(77)]
    task = _task("t$x", variants=[_variant("a$b$", labels=labels), _variant("c", labels=labels)])
    _image(confusion_png(task))
    _image(matrix_png(_results(task)))


def test_trend_across_runs():
    old = _results(_task(variants=[_variant("p", 0.5, None, None), _variant("lora", 0.6)]),
                   created="2026-01-01T00:00:00+00:00")
    older = _results(_task(variants=[_variant("p", None)]), created="2025-12-01T00:00:00")
    _image(trend_png(_results(), [older, old]))


def test_economics_marks_payback():
    png = _image(economics_png(_task(economics=ECON)))
    assert png.size[0] == 750
    assert economics_png(_task(economics=ECON)) == economics_png(_task(economics=ECON))


@pytest.mark.parametrize("payback", [math.inf, None, 30.0, 500.0, math.nan])
def test_economics_without_a_payback_in_range(payback):
    econ = {**ECON, "payback_months": payback, "maintenance_per_month_usd": None}
    _image(economics_png(_task(economics=econ)))


def test_economics_needs_the_monthly_costs():
    assert economics_png(_task()) is None
    assert economics_png(_task(economics=None)) is None
    for key in ("baseline_monthly_cost_usd", "candidate_monthly_cost_usd", "one_off_cost_usd"):
        assert economics_png(_task(economics={**ECON, key: None})) is None
    econ = {k: v for k, v in ECON.items() if k not in ("horizon_months", "payback_months")}
    _image(economics_png(_task(economics=econ)))


def test_payback_months_reading():
    assert payback_months(kit.economics(payback_months=4.5)) == 4.5
    # results.json writes infinity as null, with never_pays_back: both read as "never".
    assert payback_months(kit.economics(payback_months=None, never_pays_back=True)) == math.inf
    assert payback_months(kit.economics(payback_months=math.inf,
                                        never_pays_back=True)) == math.inf
    assert math.isnan(payback_months(kit.economics(payback_months=math.nan)))


def test_make_plots_names_and_order():
    res = _results(_task(economics=ECON), _task("two"))
    plots = make_plots(res, [_results()])
    names = [p.name for p in plots]
    assert names == ["matrix", "forest", "trend", "economics-0-toy", "confusion-0-toy",
                     "confusion-1-two"]
    assert len(set(names)) == len(names)
    assert [p.task for p in plots] == [None, None, None, "toy", "toy", "two"]
    assert [p.name for p in make_plots(res)][:2] == ["matrix", "forest"]
    assert "trend" not in [p.name for p in make_plots(res)]
