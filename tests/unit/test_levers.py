"""The prompt levers in prediction: constraints, system prompts, reasoning, self-consistency.

A recording backend returns scripted texts and keeps every request, so each
test checks both what was sent and what was scored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

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
from harness.backends.constrain import KINDS, Constraint
from harness.client import CachedModel, request_fields
from harness.config import load_config
from harness.errors import UsageError
from harness.estimate import estimate
from harness.predict import make_plan, predict
from harness.runner import Runner
from harness.store import Store, cache_key
from harness.tasks import load_task
from harness.variants.levers import check_task_levers
from harness.variants.prompt import load_variant

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """Answers ``reply(request)``; keeps requests; declares what it can do."""

    def __init__(self, reply: Callable[[GenRequest], str], chat: bool = False,
                 constrain: frozenset[str] = frozenset(KINDS), logprobs: bool = False) -> None:
        self.capabilities = Capabilities(logprobs=logprobs, tokenizer=True, max_concurrency=1,
                                         constrain=constrain, chat=chat)
        self.reply = reply
        self.requests: list[GenRequest | ScoreRequest] = []

    @property
    def identity(self) -> dict[str, str | None]:
        return {"backend": "recorder", "model": "r", "adapter": None}

    def generate(self, request: GenRequest) -> GenResponse:
        self.requests.append(request)
        return GenResponse(self.reply(request), len(request.prompt.split()), 3)

    def score(self, request: ScoreRequest) -> ScoreResponse:
        self.requests.append(request)
        lps = tuple(-1.0 if "BETA" in c else -2.0 for c in request.continuations)
        return ScoreResponse(lps, tuple(1 for _ in lps), 5)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass



def _variant(project, name, extra=""):
    return load_variant(project.write(f"{name}.yaml", f"name: {name}\ntemplate: echo.j2\n"
                                      f"{extra}"))


def _fake(store, mode):
    return CachedModel(create(parse_spec(f"fake:{mode}"), BackendOptions()), store)


# -- constraints -----------------------------------------------------------------------


def test_labels_constraint_makes_every_generated_answer_a_label(project, store):
    # The message names URGENT, not a label: the fake answers URGENT (invalid)...
    project.split("test", [("ALPHA", "URGENT"), ("BETA", "BETA")], "te")
    task = load_task(project.task)
    model = _fake(store, "nologprobs")
    free = make_plan(model, task, _variant(project, "free"), ())
    assert [predict(model, free, ex)[0].prediction for ex in task.split("test")] == [
        None, "BETA"]
    # ...and under constrain: labels the backend may only answer a label: the
    # fake maps anything else to the first label, ALPHA.
    plan = make_plan(model, task, _variant(project, "lab", "constrain: labels\n"), ())
    assert plan.constraint == Constraint("labels", choices=("ALPHA", "BETA"))
    outs = [predict(model, plan, ex)[0] for ex in task.split("test")]
    assert [o.prediction for o in outs] == ["ALPHA", "BETA"]
    assert all(o.detail["constrain"] == "labels" for o in outs)


def test_labels_constraint_is_moot_under_label_scoring(project, store):
    task = load_task(project.task)
    model = _fake(store, "keyword")  # has logprobs: labels are scored, always valid
    plan = make_plan(model, task, _variant(project, "lab", "constrain: labels\n"), ())
    assert plan.use_logprobs and plan.constraint is None
    assert predict(model, plan, task.split("test")[0])[0].detail["mode"] == "logprobs"


def test_schema_constraint_is_sent_with_the_schema_and_no_stop_strings(store):
    task = load_task(ROOT / "tasks" / "support_record.yaml")
    gold = task.split("test")[0].target
    backend = Recorder(lambda r: gold)
    model = CachedModel(backend, store)
    variant = load_variant(ROOT / "baselines" / "constrained.yaml")
    plan = make_plan(model, task, variant, ())
    out, _ = predict(model, plan, task.split("test")[0])
    (req,) = backend.requests
    assert isinstance(req, GenRequest)
    assert req.constraint == Constraint.for_schema(task.resources["schema"])
    assert req.stop == () and req.max_tokens == 160  # the task's budget, its "\n" stop dropped
    assert out.detail["parse"] == "strict" and out.detail["constrain"] == "schema"
    assert json.loads(out.prediction or "") == json.loads(gold)


def test_a_backend_that_cannot_constrain_is_refused_at_the_constrain_line(store):
    task = load_task(ROOT / "tasks" / "support_record.yaml")
    variant = load_variant(ROOT / "baselines" / "constrained.yaml")
    with pytest.raises(UsageError) as err:
        make_plan(_fake(store, "keyword"), task, variant, ())
    assert err.value.path == str(variant.path) and err.value.line == 9
    assert err.value.message == (
        "variant 'constrained': backend fake cannot constrain its output to a JSON Schema "
        "(constrain: schema); it can constrain: labels")


@pytest.mark.parametrize(("kind", "needs"), [
    ("schema", "needs a format task with a JSON schema"),
    ("regex", "needs a format task with a regex (format: regex)"),
])
def test_a_constraint_the_task_cannot_give_is_refused(project, kind, needs):
    variant = _variant(project, "c", f"constrain: {kind}\n")
    with pytest.raises(UsageError) as err:
        check_task_levers(load_task(project.task), variant)
    assert err.value.message.startswith(f"variant 'c': constrain: {kind} {needs}, but task "
                                        "'toy' (classification) has none")
    assert err.value.line == 3 and "families: [format]" in (err.value.hint or "")


def test_labels_constraint_on_a_format_task_is_refused():
    task = load_task(ROOT / "tasks" / "support_record.yaml")
    variant = load_variant(ROOT / "baselines" / "zero_shot.yaml")
    spec = variant.spec.model_copy(update={"constrain": "labels"})
    from dataclasses import replace
    with pytest.raises(UsageError, match="needs a classification task"):
        check_task_levers(task, replace(variant, spec=spec))


def test_cache_keys_separate_constrained_and_system_requests_and_keep_old_keys():
    identity = {"backend": "b", "model": "m", "adapter": None}
    plain = GenRequest("p", max_tokens=4, stop=("\n",))
    legacy = {"prompt": "p", "max_tokens": 4, "stop": ("\n",), "temperature": 0.0, "seed": 0}
    assert request_fields(plain) == legacy  # keys made before constraints existed still hit
    keys = {cache_key(identity, "generate", request_fields(r)) for r in (
        plain,
        GenRequest("p", max_tokens=4, stop=("\n",), constraint=Constraint.for_labels(["A"])),
        GenRequest("p", max_tokens=4, stop=("\n",), constraint=Constraint.for_labels(["B"])),
        GenRequest("p", max_tokens=4, stop=("\n",), constraint=Constraint.for_regex("A")),
        GenRequest("p", max_tokens=4, stop=("\n",), system="be brief"))}
    assert len(keys) == 5
    assert request_fields(ScoreRequest("p", (" A",))) == {"prompt": "p", "continuations": (" A",)}
    assert "system" in request_fields(ScoreRequest("p", (" A",), system="s"))


# -- system prompts --------------------------------------------------------------------

SYSTEM = ("system: 'Careful. {{ task.description }} Labels: "
          "{{ labels|map(attribute=\"name\")|join(\", \") }}.'\n")


def test_system_prompt_is_prepended_on_a_completion_backend(project, store):
    backend = Recorder(lambda r: "BETA")
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "s", SYSTEM + "scoring: generate\n"), ())
    out, _ = predict(model, plan, task.split("test")[0])
    (req,) = backend.requests
    assert req.prompt == ("Careful. Route a toy message. Labels: ALPHA, BETA.\n\n"
                          "Message: te message 0 is about ALPHA\nAnswer:")
    assert req.system == "" and out.detail["system"] == "prepended"


def test_system_prompt_is_the_system_message_on_a_chat_backend(project, store):
    backend = Recorder(lambda r: "BETA", chat=True, logprobs=True)
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "s", SYSTEM + "calibrate: true\n"), ())
    out, _ = predict(model, plan, task.split("test")[0])
    # 3 content-free calibration requests, then the example: each with the system message.
    assert [r.system for r in backend.requests] == [
        "Careful. Route a toy message. Labels: ALPHA, BETA."] * 4
    assert [r.prompt for r in backend.requests][-1] == (
        "Message: te message 0 is about ALPHA\nAnswer:")
    assert backend.requests[0].prompt == "Message: N/A\nAnswer:"
    assert out.detail["system"] == "message" and out.detail["mode"] == "logprobs"


def test_system_prompt_template_errors_point_at_the_system_line(project):
    variant = _variant(project, "s", "shots: 0\nsystem: '{{ tsk.description }}'\n")
    with pytest.raises(UsageError, match="'tsk' is undefined") as err:
        variant.render_system(load_task(project.task))
    assert err.value.line == 4


# -- reasoning -------------------------------------------------------------------------

REASONED = "The text names BETA twice.\nAnswer: BETA\n\nMessage: x\nAnswer: ALPHA"


def test_reasoning_scores_only_the_answer_line(project, store):
    backend = Recorder(lambda r: REASONED, logprobs=True)
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "r", "reasoning: true\n"), ())
    assert not plan.use_logprobs  # it generates even where labels could be scored
    out, _ = predict(model, plan, task.split("test")[0])
    (req,) = backend.requests
    assert isinstance(req, GenRequest) and (req.max_tokens, req.stop) == (256, ())
    assert out.text == REASONED
    assert (out.prediction, out.detail["answer_line"]) == ("BETA", "BETA")


def test_reasoning_without_an_answer_line_is_an_invalid_answer(project, store):
    model = CachedModel(Recorder(lambda r: "I think it is BETA."), store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "r", "reasoning: true\n"), ())
    out, _ = predict(model, plan, task.split("test")[0])
    assert out.prediction is None and out.detail["error"] == "no 'Answer:' line"


def test_reasoning_on_a_format_task_parses_the_answer_line(store):
    task = load_task(ROOT / "tasks" / "support_record.yaml")
    gold = task.split("test")[0].target
    model = CachedModel(Recorder(lambda r: f"Late parcel.\nAnswer: {gold}"), store)
    plan = make_plan(model, task, load_variant(ROOT / "baselines" / "reasoning.yaml"), ())
    out, _ = predict(model, plan, task.split("test")[0])
    assert out.detail["parse"] == "strict" and json.loads(out.prediction or "") == json.loads(
        gold)


# -- self-consistency ------------------------------------------------------------------

SC = "samples: 5\naggregate: majority\ntemperature: 0.7\n"


@pytest.mark.parametrize(("by_seed", "expected", "winner_text"), [
    # ALPHA 2 (draws 0, 4), BETA 2 (1, 2), none invalid: a tie, ALPHA drawn first.
    (["ALPHA", "BETA", "BETA", "none", "ALPHA"], "ALPHA", "ALPHA"),
    # BETA 2 (1, 3), ALPHA 1 (2), two invalid: BETA.
    (["none", "beta.", "ALPHA", "BETA", "x"], "BETA", "beta."),
    (["none", "x", "y", "z", "w"], None, "none"),  # nobody votes: invalid
])
def test_self_consistency_takes_the_majority_of_the_draws(project, store, by_seed, expected,
                                                          winner_text):
    backend = Recorder(lambda r: by_seed[r.seed % 5])
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "sc", SC), ())
    out, usage = predict(model, plan, task.split("test")[0])
    assert [r.seed for r in backend.requests] == [0, 1, 2, 3, 4]
    assert all(isinstance(r, GenRequest) and r.temperature == 0.7 for r in backend.requests)
    assert (out.prediction, out.text) == (expected, winner_text)
    assert out.detail["aggregate"] == "majority" and len(out.detail["answers"]) == 5
    assert usage.completion_tokens == 15 and not usage.cached  # 5 draws x 3 tokens


def test_each_draw_is_cached_on_its_own_and_run_samples_do_not_collide(project, store):
    backend = Recorder(lambda r: ["ALPHA", "BETA"][r.seed % 2])
    model = CachedModel(backend, store)
    task = load_task(project.task)
    plan = make_plan(model, task, _variant(project, "sc", SC), ())
    ex = task.split("test")[0]
    first, _ = predict(model, plan, ex)
    again, usage = predict(model, plan, ex)
    assert model.calls == 5 and model.hits == 5 and usage.cached and again == first
    predict(model, plan, ex, sample=1)  # the run's second sample: draws 5..9
    assert [r.seed for r in backend.requests] == list(range(10)) and model.calls == 10


@pytest.mark.parametrize(("extra", "line", "message"), [
    ("samples: 3\ntemperature: 0.7\n", 3, "does not say how to combine them"),
    ("aggregate: majority\n", 3, "aggregate: majority needs samples: 2 or more"),
    ("samples: 3\naggregate: majority\n", 3, "at temperature 0 draws the same answer"),
    (SC + "scoring: logprobs\n", 6, "self-consistency votes over generated answers"),
    ("shots: 2\nshot_selection: similar\ncalibrate: true\n", 5, "calibrate estimates one prior"),
    ("reasoning: true\ncalibrate: true\n", 4, "calibrate rescales label scores"),
    ("reasoning: true\nscoring: logprobs\n", 3, "reasoning generates its answer"),
    ("reasoning: true\nconstrain: labels\n", 4, "leaves no room for the reasoning"),
    ("system: '{% if x %}'\n", 3, "template syntax error in system"),
])
def test_levers_that_contradict_each_other_are_refused_at_their_line(project, extra, line,
                                                                     message):
    with pytest.raises(UsageError, match=message) as err:
        _variant(project, "v", extra)
    assert err.value.line == line


# -- runs ------------------------------------------------------------------------------


def test_a_run_is_refused_before_any_example_when_the_backend_cannot_constrain(tmp_path):
    (tmp_path / "run.yaml").write_text(
        f"name: r\ntasks: [{ROOT}/tasks/support_record.yaml]\n"
        f"variants: [{ROOT}/baselines/zero_shot.yaml, {ROOT}/baselines/constrained.yaml]\n"
        "models: ['fake:keyword']\nlimit: {dev: 2, test: 2}\n")
    store = Store(tmp_path / "store")
    try:
        with pytest.raises(UsageError, match="cannot constrain its output to a JSON Schema"):
            Runner(load_config(tmp_path / "run.yaml"), store, BackendOptions()).run()
    finally:
        store.close()
    # zero_shot comes first in the config, yet nothing ran: the check is up front.
    db = sqlite3.connect(tmp_path / "store" / "store.sqlite")
    assert db.execute("SELECT COUNT(*) FROM records").fetchone() == (0,)


def test_estimate_counts_every_draw_and_matches_the_runs_cache_keys(project, tmp_path):
    _variant(project, "sc", SC + "system: 'Be brief.'\n")
    project.write("run.yaml", "name: r\nseed: 1\ntasks: [task.yaml]\nvariants: [sc.yaml]\n"
                  "models: ['fake:nologprobs']\nsamples: 2\nanalysis: {resamples: 200}\n")
    cfg = load_config(project.config)
    store = Store(tmp_path / "store")
    try:
        before = estimate(cfg, store)
        Runner(cfg, store, BackendOptions()).run()
        after = estimate(cfg, store)
    finally:
        store.close()
    # (4 dev + 6 test) examples x 2 run samples x 5 draws = 100 generate requests.
    assert [(r.requests, r.cached) for r in before] == [(100, 0)]
    assert [(r.requests, r.cached) for r in after] == [(100, 100)]


@pytest.mark.parametrize(("extra", "key", "line"), [
    ("scoring: generate\nconstrain: labels\n", "constrain", 4),
    ("reasoning: true\n", "reasoning", 3),
    (SC, "samples", 3),
])
def test_export_refuses_levers_lm_eval_cannot_express(project, tmp_path, extra, key, line):
    from harness.lmeval import export_lmeval

    variant = _variant(project, "v", extra)
    with pytest.raises(UsageError, match=f"uses {key}, which an lm-eval task cannot") as err:
        export_lmeval(load_task(project.task), tmp_path / "lm", variant)
    assert err.value.line == line


def test_export_prepends_the_system_prompt(project, tmp_path):
    from harness.lmeval import export_lmeval

    variant = _variant(project, "v", "system: 'Be exact.'\n")
    out = export_lmeval(load_task(project.task), tmp_path / "lm", variant)
    first = json.loads(out.data_file.read_text().splitlines()[0])
    assert first["prompt"] == "Be exact.\n\nMessage: te message 0 is about ALPHA\nAnswer:"


@pytest.mark.parametrize("spec", ["embedded:?chat=maybe", "embedded:?temperature=1"])
def test_embedded_spec_options_are_checked(spec):
    pytest.importorskip("llama_cpp")
    with pytest.raises(UsageError, match="embedded: (bad|unknown) option"):
        create(parse_spec(spec), BackendOptions())


def test_a_variant_built_in_code_with_contradicting_levers_is_refused_at_start(project,
                                                                              store):
    """A search candidate is a spec built in code: load_variant never saw it."""
    from dataclasses import replace

    base = _variant(project, "v", "shots: 2\n")
    spec = base.spec.model_copy(update={"shot_selection": "similar", "calibrate": True})
    with pytest.raises(UsageError, match="calibrate estimates one prior"):
        make_plan(_fake(store, "keyword"), load_task(project.task), replace(base, spec=spec),
                  ())
