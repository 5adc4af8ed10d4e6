"""Tone scorers on the house-tone demo task: style, similarity, chrF, fluency, joint, judge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.scoring import Output, score_all
from harness.scoring.judge import judge_prompt, parse_rating
from harness.scoring.parse import parse_output
from harness.scoring.tone import judge_rubric, style_models
from harness.tasks import Example, Task, load_task
from harness.taskspec import JudgeSpec

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def task() -> Task:
    return load_task(ROOT / "tasks" / "house_tone.yaml")


def _scores(task: Task, ex: Example, text: str) -> dict[str, dict[str, Any]]:
    parsed = parse_output(task.spec, dict(task.resources), text)
    return score_all(task, ex, Output(text, parsed.prediction, parsed.detail))


def test_classifier_reports_its_own_heldout_accuracy(task):
    facts = style_models(task).facts()
    assert facts["classes"] == ["blunt", "house"] and facts["target"] == "house"
    assert facts["n_heldout"] == 72 and facts["n_train"] == 288
    assert 0.9 <= facts["heldout_accuracy"] <= 1.0


def test_references_beat_sources_on_the_joint_score(task):
    rows = task.split("test")[:12]
    gold = [_scores(task, ex, ex.target) for ex in rows]
    src = [_scores(task, ex, ex.input) for ex in rows]
    j_gold = np.mean([s["joint"]["value"] for s in gold])
    j_src = np.mean([s["joint"]["value"] for s in src])
    assert j_gold > 0.7 and j_src < 0.1
    one = gold[0]
    assert one["joint"]["detail"]["style"] == one["style_accuracy"]["value"] == 1.0
    assert one["joint"]["detail"]["similarity"] == pytest.approx(
        one["similarity_source"]["value"])
    assert one["chrf_reference"]["value"] == 1.0 and one["similarity_reference"]["value"] > 0.99
    assert src[0]["chrf_source"]["value"] == 1.0
    assert "classifier held-out accuracy" in one["style_accuracy"]["explanation"]
    assert "judge_rubric" not in one  # no judge configured


def test_degenerate_and_empty_outputs(task):
    ex = task.split("test")[0]
    loop = _scores(task, ex, "thanks for the parcel " * 8)
    assert loop["fluency"]["value"] == 0.0 and loop["fluency"]["detail"]["looping"]
    assert "character-trigram" in loop["fluency"]["detail"]["proxy"]
    empty = _scores(task, ex, "   \n")
    assert {v["value"] for v in empty.values()} == {0.0}


def test_judge_rating_parse_and_invalid_answers_are_flagged(task):
    assert parse_rating("4 - polite", 5) == 4
    assert parse_rating("six", 5) is None and parse_rating("9", 5) is None
    spec = JudgeSpec(model="fake:keyword", rubric="Is it polite?", scale=5)
    prompt = judge_prompt(spec, "Pay now.", "Could you pay, please?")
    assert "Rubric: Is it polite?" in prompt and "Rewrite: Could you pay, please?" in prompt
    ex = task.split("test")[0]
    valid = judge_rubric(ex, Output("x", "x", {"judge": {"rating": 4, "scale": 5,
                                                          "invalid": False}}), task)
    assert valid.value == 0.75 and valid.explanation == "judge rated 4/5"
    bad = judge_rubric(ex, Output("x", "x", {"judge": {"rating": None, "raw": "meh",
                                                        "scale": 5, "invalid": True}}), task)
    assert np.isnan(bad.value) and bad.detail == {"invalid": True}
    assert "invalid judge answer 'meh'" in bad.explanation
