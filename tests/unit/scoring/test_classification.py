"""Classification scoring: the per-example scorer (table cases) and corpus metrics."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from harness.scoring import SCORERS, Output, scorers_for
from harness.scoring.classification import INVALID, label_accuracy, summarize
from harness.tasks import Example

CASES = yaml.safe_load((Path(__file__).parent / "cases" / "label_accuracy.yaml").read_text())


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_label_accuracy_cases(case):
    info = SCORERS.get(CASES["scorer"])
    ex = Example("e1", "some input", case["target"], "test")
    score = info.fn(ex, Output(case["output"]["text"], case["output"]["prediction"]))
    assert score.value == case["score"]
    assert case["explanation"] in score.explanation
    assert score.detail == {"invalid": case["invalid"]}
    assert score.to_json()["value"] == case["score"]


def test_label_accuracy_is_registered_for_classification():
    (info,) = scorers_for("classification")
    assert (info.name, info.fn, info.kind, info.higher_is_better) == (
        "label_accuracy", label_accuracy, "binary", True)
    assert scorers_for("generation") == []


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_summary_matches_scikit_learn_on_random_predictions(seed):
    rng = np.random.default_rng(seed)
    labels = ["ORCA", "TIDE", "KELP", "REEF"]
    gold = list(rng.choice(labels, size=200))
    pred = [None if rng.random() < 0.1 else str(rng.choice(labels)) for _ in gold]
    s = summarize(gold, pred, labels)
    filled = [INVALID if p is None else p for p in pred]
    assert s.n == 200
    assert s.accuracy == pytest.approx(accuracy_score(gold, filled))
    assert s.macro_f1 == pytest.approx(
        f1_score(gold, filled, labels=labels, average="macro", zero_division=0))
    assert s.invalid_rate == pytest.approx(sum(p is None for p in pred) / 200)
    assert s.labels == (*labels, INVALID)
    cm = confusion_matrix(gold, filled, labels=[*labels, INVALID])
    assert [list(r) for r in s.confusion] == cm.tolist()
    f1_per = f1_score(gold, filled, labels=labels, average=None, zero_division=0)
    assert [s.per_label[lab]["f1"] for lab in labels] == pytest.approx(list(f1_per))
    assert sum(s.per_label[lab]["support"] for lab in labels) == 200


def test_summary_worked_example():
    gold = ["A", "A", "B", "B", "B"]
    pred = ["A", None, "B", "A", "B"]
    s = summarize(gold, pred, ["A", "B"])
    assert s.accuracy == pytest.approx(3 / 5)
    assert s.invalid_rate == pytest.approx(1 / 5)
    # A: precision 1/2, recall 1/2 -> F1 0.5; B: precision 1, recall 2/3 -> F1 0.8.
    assert s.macro_f1 == pytest.approx((0.5 + 0.8) / 2)
    assert s.labels == ("A", "B", INVALID)
    assert s.confusion == ((1, 0, 1), (1, 2, 0), (0, 0, 0))
    assert s.per_label["B"] == pytest.approx(
        {"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})


def test_summary_without_invalid_has_no_invalid_column():
    s = summarize(["A", "B"], ["A", "A"], ["A", "B"])
    assert s.labels == ("A", "B")
    assert s.confusion == ((1, 0), (1, 0))
    assert s.invalid_rate == 0.0


def test_labels_never_predicted_still_count_in_macro_f1():
    s = summarize(["A", "A"], ["A", "A"], ["A", "B", "C"])
    assert s.accuracy == 1.0
    assert s.macro_f1 == pytest.approx(1 / 3)


def test_empty_summary_is_nan_not_a_crash():
    s = summarize([], [], ["A", "B"])
    assert s.n == 0
    assert math.isnan(s.accuracy) and math.isnan(s.macro_f1) and math.isnan(s.invalid_rate)
    assert s.labels == ("A", "B") and s.confusion == ((0, 0), (0, 0))
    assert s.per_label["A"]["support"] == 0


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="differ in length"):
        summarize(["A"], ["A", "B"], ["A", "B"])
