"""Prediction: strict label matching, label scoring, calibration, generation fallback."""

from __future__ import annotations

import math

import pytest

from harness.backends.base import (
    BackendOptions,
    Capabilities,
    GenRequest,
    GenResponse,
    ScoreRequest,
    ScoreResponse,
    create,
    parse_spec,
)
from harness.client import CachedModel
from harness.errors import UsageError
from harness.predict import (
    PromptPlan,
    calibration_prior,
    make_plan,
    match_label,
    max_label_tokens,
    predict_classification,
)
from harness.scoring.classification import label_accuracy
from harness.tasks import load_task
from harness.variants.prompt import load_variant

LABELS = ["ORCA", "TIDE", "big fish"]


@pytest.mark.parametrize(("text", "expected"), [
    ("ORCA", "ORCA"), (" tide.\nmore text", "TIDE"), ("`Orca`", "ORCA"), ('"TIDE"!', "TIDE"),
    ("  big fish  ", "big fish"), ("**orca**", "ORCA"), ("\n\nTIDE", "TIDE"),
    ("I think TIDE", None), ("ORCA or TIDE", None), ("ORCAS", None), ("", None),
    ("   ", None), ("big", None), ("TIDE\nORCA", "TIDE"), ("the answer: ORCA", None),
])
def test_match_label_is_strict(text, expected):
    assert match_label(text, LABELS) == expected


class Fixed:
    """Scores labels from a table: content-free prompts get a skewed prior."""

    def __init__(self, real: dict[str, float], prior: dict[str, float]) -> None:
        self.capabilities = Capabilities(logprobs=True, tokenizer=False, max_concurrency=1)
        self.real, self.prior = real, prior
        self.requests: list[ScoreRequest] = []

    @property
    def identity(self) -> dict[str, str | None]:
        return {"backend": "fixed", "model": repr(sorted(self.real.items())), "adapter": None}

    def score(self, request: ScoreRequest) -> ScoreResponse:
        self.requests.append(request)
        table = self.real if "message" in request.prompt else self.prior
        lps = tuple(math.log(p) if (p := table[c.strip()]) > 0 else -1000.0
                    for c in request.continuations)
        return ScoreResponse(lps, tuple(1 for _ in lps), 10)

    def generate(self, request: GenRequest) -> GenResponse:
        raise AssertionError("label scoring must not generate")

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass



def _variant(project, name, extra=""):
    path = project.write(f"{name}.yaml", f"name: {name}\ntemplate: echo.j2\n{extra}")
    return load_variant(path)


def test_label_scoring_picks_the_argmax(project, store):
    backend = Fixed({"ALPHA": 0.3, "BETA": 0.7}, {"ALPHA": 0.5, "BETA": 0.5})
    model = CachedModel(backend, store)
    task, variant = load_task(project.task), _variant(project, "v")
    plan = make_plan(model, task, variant, ())
    assert plan.use_logprobs and plan.calibration is None
    out, usage = predict_classification(model, plan, task.split("test")[0])
    assert (out.text, out.prediction) == ("BETA", "BETA")
    assert out.detail["mode"] == "logprobs" and out.detail["calibrated"] is False
    assert out.detail["logprobs"] == {"ALPHA": round(math.log(0.3), 4),
                                      "BETA": round(math.log(0.7), 4)}
    (req,) = backend.requests
    assert req.prompt == "Message: te message 0 is about ALPHA\nAnswer:"
    assert req.continuations == (" ALPHA", " BETA")
    assert usage.prompt_tokens == 10 and not usage.cached


def test_no_extra_space_after_a_prompt_ending_in_whitespace(project, store):
    # The file's own final newline is dropped; the one before it stays.
    project.write("space.j2", "Message: {{ input }}\nAnswer:\n\n")
    variant = load_variant(project.write("sp.yaml", "name: sp\ntemplate: space.j2\n"))
    backend = Fixed({"ALPHA": 0.6, "BETA": 0.4}, {"ALPHA": 0.5, "BETA": 0.5})
    model = CachedModel(backend, store)
    task = load_task(project.task)
    predict_classification(model, make_plan(model, task, variant, ()), task.split("dev")[0])
    assert backend.requests[-1].continuations == ("ALPHA", "BETA")


def test_calibration_flips_a_prediction_under_a_skewed_prior(project, store):
    # Raw: ALPHA 0.6 > BETA 0.4. Prior on content-free inputs: ALPHA 0.9, BETA 0.1.
    # Calibrated: ALPHA 0.6/0.9 < BETA 0.4/0.1, so the answer becomes BETA.
    backend = Fixed({"ALPHA": 0.6, "BETA": 0.4}, {"ALPHA": 0.9, "BETA": 0.1})
    model = CachedModel(backend, store)
    task = load_task(project.task)
    example = task.split("test")[0]
    raw = make_plan(model, task, _variant(project, "raw"), ())
    cal = make_plan(model, task, _variant(project, "cal", "calibrate: true\n"), ())
    assert cal.calibration == pytest.approx({"ALPHA": math.log(0.9), "BETA": math.log(0.1)})
    assert predict_classification(model, raw, example)[0].prediction == "ALPHA"
    out, _ = predict_classification(model, cal, example)
    assert out.prediction == "BETA" and out.detail["calibrated"] is True


def test_calibration_prior_averages_content_free_inputs(project, store):
    backend = Fixed({"ALPHA": 0.5, "BETA": 0.5}, {"ALPHA": 0.8, "BETA": 0.2})
    model = CachedModel(backend, store)
    task = load_task(project.task)
    variant = _variant(project, "v")
    prior = calibration_prior(model, ["ALPHA", "BETA"],
                              lambda text: (variant.render(task, text, ()), ""))
    assert prior == pytest.approx({"ALPHA": math.log(0.8), "BETA": math.log(0.2)})
    assert [r.prompt for r in backend.requests] == [
        "Message: N/A\nAnswer:", "Message: \nAnswer:", "Message: [MASK]\nAnswer:"]


def test_balanced_prior_changes_nothing(project, store):
    backend = Fixed({"ALPHA": 0.45, "BETA": 0.55}, {"ALPHA": 0.5, "BETA": 0.5})
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "cal", "calibrate: true\n"), ())
    assert predict_classification(model, plan, task.split("dev")[0])[0].prediction == "BETA"


def _fake(store, mode):
    return CachedModel(create(parse_spec(f"fake:{mode}"), BackendOptions()), store)


def test_generation_fallback_scores_invalid_answers_as_failures(project, store):
    project.split("test", [("ALPHA", "ALPHA"), ("BETA", "URGENT"), ("BETA", "nothing")], "te")
    task = load_task(project.task)
    model = _fake(store, "nologprobs")
    plan = make_plan(model, task, _variant(project, "v"), ())
    assert not plan.use_logprobs and plan.calibration is None
    outs = [predict_classification(model, plan, ex)[0] for ex in task.split("test")]
    assert [(o.text, o.prediction) for o in outs] == [
        ("ALPHA", "ALPHA"), ("URGENT", None), ("none", None)]
    assert all(o.detail["mode"] == "generate" for o in outs)
    scores = [label_accuracy(ex, o) for ex, o in zip(task.split("test"), outs, strict=True)]
    assert [s.value for s in scores] == [1.0, 0.0, 0.0]
    assert [s.detail["invalid"] for s in scores] == [False, True, True]


def test_generate_mode_on_a_logprobs_backend(project, store):
    task = load_task(project.task)
    model = _fake(store, "keyword")
    plan = make_plan(model, task, _variant(project, "g", "scoring: generate\n"), ())
    assert not plan.use_logprobs
    out, usage = predict_classification(model, plan, task.split("test")[4])
    assert out.prediction == "BETA" and usage.completion_tokens == 1


@pytest.mark.parametrize(("extra", "message"), [
    ("scoring: logprobs\n", "needs logprobs, which backend fake does not give"),
    ("calibrate: true\n", "calibrates label scores, which needs logprobs"),
])
def test_plan_refuses_what_the_backend_cannot_do(project, store, extra, message):
    variant = _variant(project, "v", extra)
    with pytest.raises(UsageError, match=message) as err:
        make_plan(_fake(store, "nologprobs"), load_task(project.task), variant, ())
    assert err.value.path == str(variant.path)


def test_calibrate_with_generate_scoring_is_refused(project, store):
    variant = _variant(project, "v", "calibrate: true\nscoring: generate\n")
    with pytest.raises(UsageError, match="calibrates label scores"):
        make_plan(_fake(store, "keyword"), load_task(project.task), variant, ())


def test_zero_prior_is_floored_not_dropped(project, store):
    backend = Fixed({"ALPHA": 0.6, "BETA": 0.4}, {"ALPHA": 1.0, "BETA": 0.0})
    model = CachedModel(backend, store)
    plan = make_plan(model, load_task(project.task),
                     _variant(project, "cal", "calibrate: true\n"), ())
    assert plan.calibration is not None
    assert plan.calibration["BETA"] == pytest.approx(math.log(1e-30))
    assert plan.calibration["ALPHA"] == pytest.approx(0.0, abs=1e-9)


def test_max_label_tokens(store):
    model = _fake(store, "keyword")
    assert max_label_tokens(model, ["A", "big fish tank"]) == 5


def test_plan_is_a_frozen_record(project, store):
    task = load_task(project.task)
    plan = PromptPlan(task, _variant(project, "v"), (), True)
    with pytest.raises(AttributeError):
        plan.use_logprobs = False  # type: ignore[misc]
