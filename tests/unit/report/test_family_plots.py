"""Family figures and the per-field accuracy they plot."""

from __future__ import annotations

import numpy as np

from harness.analysis.families import field_accuracy
from harness.report.family_plots import fields_png, tone_png
from harness.taskspec import Normalize
from tests.unit import resultskit as kit

PNG = b"\x89PNG"


def test_field_accuracy_per_gold_field() -> None:
    golds = ['{"a": "X", "b": {"c": 1}, "l": [1, 2]}', '{"a": "y", "b": {"c": 2}, "l": [3]}',
             "not json"]
    outputs = [{"prediction": {"a": " x ", "b": {"c": 1}, "l": [2, 1]}},
               {"prediction": None}, {"prediction": {"a": "q"}}]
    acc = field_accuracy(golds, outputs, np.random.default_rng(0), 200, 0.95)
    # The scorers' fields (JSON Pointers); list items aligned order-free. Example 1
    # has every field right, example 2 none (unparseable), example 3 is skipped.
    assert set(acc) == {"/a", "/b/c", "/l/0", "/l/1"}
    assert acc["/a"]["accuracy"] == 0.5 and acc["/a"]["n"] == 2  # trimmed, case-folded
    assert acc["/b/c"]["accuracy"] == 0.5 and acc["/l/0"]["accuracy"] == 0.5
    assert acc["/l/1"]["accuracy"] == 1.0 and acc["/l/1"]["n"] == 1  # only example 1 has it
    assert acc["/a"]["ci_low"] <= 0.5 <= acc["/a"]["ci_high"]
    # The task's normalisation decides, as for the scorers: case-sensitive, " x " is wrong.
    strict = field_accuracy(golds, outputs, np.random.default_rng(0), 200, 0.95,
                            how=Normalize(case=False, whitespace=False))
    assert strict["/a"]["accuracy"] == 0.0


def test_field_accuracy_keeps_each_item_together() -> None:
    # Issue 14 case 1: qty swapped between the two items; each item's qty is wrong
    # (the old flattener pooled all qty values and called both right).
    golds = ['{"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}']
    outputs = [{"prediction": '{"queue": "BILL", "items": [{"sku": "A", "qty": 5}, '
                              '{"sku": "B", "qty": 1}]}'}]
    acc = field_accuracy(golds, outputs, np.random.default_rng(0), 200, 0.95)
    assert {k: v["accuracy"] for k, v in acc.items()} == {
        "/queue": 1.0, "/items/0/sku": 1.0, "/items/0/qty": 0.0, "/items/1/sku": 1.0,
        "/items/1/qty": 0.0}


def _field(acc: float) -> dict:
    return {"accuracy": acc, "ci_low": acc - 0.1, "ci_high": min(1.0, acc + 0.1), "n": 40}


def test_fields_png_only_for_format_with_fields() -> None:
    task = {"family": "format", "variants": [
        {"name": "few", "fields": {"a": _field(0.5), "b": _field(0.9)}},
        {"name": "lora", "fields": {"a": _field(0.8)}}]}
    assert fields_png(kit.task(task))[:4] == PNG
    assert fields_png(kit.task({**task, "family": "tone"})) is None
    assert fields_png(kit.task({"family": "format", "variants": [{"name": "x"}]})) is None


def test_tone_png_needs_style_and_similarity() -> None:
    def sc(mean: float) -> dict:
        return {"mean": mean, "ci_low": mean - 0.05, "ci_high": mean + 0.05, "n": 40,
                "unscored": 0, "higher_is_better": True}

    task = {"family": "tone", "variants": [
        {"name": "few", "scorers": {"style_accuracy": sc(0.9), "similarity_source": sc(0.4)}},
        {"name": "zero", "scorers": {"style_accuracy": sc(0.1)}}]}
    assert tone_png(kit.task(task))[:4] == PNG
    assert tone_png(kit.task({"family": "tone", "variants": [task["variants"][1]]})) is None
    assert tone_png(kit.task({**task, "family": "format"})) is None
