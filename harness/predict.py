"""Turning one example into an :class:`Output` through a variant and a model.

Classification prefers label scoring (:mod:`harness.labels`): the
log-likelihood of every label after the prompt, optionally calibrated.
Without logprobs (or with ``scoring: generate``, ``reasoning`` or
``samples``) it generates and matches the answer strictly against the labels.

The generation families (format, tone, terminology) generate with the
task's ``generation`` settings (max tokens, stop sequences) and parse the
text; the raw output and the parsed answer are both kept in the
:class:`Output`. A tone task with a ``judge`` also asks the judge model
for a rubric rating here, so scoring itself never calls a model.

The variant's levers act here: shots per input (``shot_selection:
similar``), an output ``constraint`` sent with each generation request, a
``system`` prompt (a system message on chat backends, else prepended to the
prompt), ``reasoning`` (only the final ``Answer:`` line is read, see
:mod:`harness.answers`) and self-consistency (``samples`` draws, majority
answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from harness.answers import final_answer, majority
from harness.backends.base import GenRequest, GenResponse, ScoreRequest
from harness.backends.constrain import Constraint, require
from harness.cache import CachedModel, Usage
from harness.errors import UsageError
from harness.labels import (
    calibration_prior,
    label_continuations,
    label_logprobs,
    log_softmax,
    match_label,
    max_label_tokens,
    task_labels,
)
from harness.rag.knowledge import Retrieval
from harness.scoring.base import Output
from harness.scoring.judge import ask_judge
from harness.scoring.parse import parse_output
from harness.tasks import ClassificationTask, Example, Task, ToneTask
from harness.variants.levers import constraint_for
from harness.variants.prompt import CONTENT_FREE, Variant
from harness.variants.shots import FixedShots, NearestShots, ShotSource

__all__ = ["PromptPlan", "SystemPrompt", "calibration_prior", "calibration_requests",
           "check_constraint", "draws", "example_requests", "generation_request",
           "label_continuations", "label_logprobs", "make_plan", "match_label",
           "max_label_tokens", "predict", "predict_classification", "predict_generation",
           "preflight", "render_prompt", "uses_logprobs"]

Read = Callable[[str], tuple[str | None, dict[str, Any]]]
"""A generated text -> (its answer or ``None``, detail)."""


@dataclass(frozen=True)
class SystemPrompt:
    """A variant's system prompt and how this backend receives it."""

    text: str = ""
    as_message: bool = False
    """A chat backend takes it as the system message; others get it before the prompt."""

    def frame(self, prompt: str) -> tuple[str, str]:
        """``(prompt, system)`` as sent: the system text prepended unless a message."""
        if not self.text or self.as_message:
            return prompt, self.text
        return f"{self.text}\n\n{prompt}", ""

    def detail(self) -> dict[str, str]:
        """What an Output's detail records about it."""
        if not self.text:
            return {}
        return {"system": "message" if self.as_message else "prepended"}


@dataclass(frozen=True)
class PromptPlan:
    """Everything fixed for one (task, variant, model) before examples run."""

    task: Task
    variant: Variant
    shots: tuple[Example, ...]
    use_logprobs: bool
    calibration: Mapping[str, float] | None = None
    judge: CachedModel | None = None
    retrieval: Retrieval | None = None
    nearest: NearestShots | None = None
    """Per-input shots (``shot_selection: similar``); ``shots`` is empty then."""
    constraint: Constraint | None = None
    system: SystemPrompt = SystemPrompt()

    def shots_for(self, example: Example) -> tuple[Example, ...]:
        """The shots this example's prompt shows."""
        return self.nearest.for_input(example.input) if self.nearest else self.shots


def render_prompt(model: CachedModel, plan: PromptPlan, example: Example
                  ) -> tuple[str, str, dict[str, Any]]:
    """The example's prompt and system prompt as sent, and what ``detail`` records.

    The detail holds a rag variant's retrieval and, for per-input shots, the
    ids of the shots shown.
    """
    shots = plan.shots_for(example)
    extra: dict[str, Any] = {"shots": [s.id for s in shots]} if plan.nearest else {}
    if plan.retrieval is None:
        text = plan.variant.render(plan.task, example.input, shots)
    else:
        rag = plan.retrieval.passages(example.input, example.fields,
                                      model.backend.count_tokens)
        text = plan.variant.render(plan.task, example.input, shots, rag["passages"])
        extra.update(rag)
    prompt, system = plan.system.frame(text)
    return prompt, system, {**extra, **plan.system.detail()}


def generation_request(model: CachedModel, task: Task, prompt: str,
                       plan: PromptPlan | None = None, system: str = "") -> GenRequest:
    """The request that generates an answer.

    A label's budget comes from the tokenized labels; other families use the
    task's ``generation`` settings (max tokens, stop sequences). A reasoning
    variant gets ``reasoning_tokens`` and no stop strings (its answer comes
    after lines of reasoning); a schema constraint drops the stop strings (the
    grammar ends the answer, and a server may put newlines inside the JSON).
    """
    gen = task.spec.generation
    spec = plan.variant.spec if plan is not None else None
    temperature = gen.temperature if spec is None or spec.temperature is None \
        else spec.temperature
    stop: tuple[str, ...]
    if isinstance(task.spec, ClassificationTask):
        budget, stop = max_label_tokens(model, list(task.spec.labels)), ("\n",)
    else:
        budget, stop = gen.max_tokens, tuple(gen.stop)
    constraint = plan.constraint if plan is not None else None
    if spec is not None and spec.reasoning:
        budget, stop = spec.reasoning_tokens, ()
    if constraint is not None and constraint.kind == "schema":
        stop = ()
    return GenRequest(prompt, max_tokens=budget, stop=stop, temperature=temperature,
                      constraint=constraint, system=system)


def _draw(request: GenRequest, index: int) -> GenRequest:
    """Draw ``index`` of an example uses its own seed (draw 0 keeps the request)."""
    return request if index == 0 else replace(request, seed=request.seed + index)


def draws(model: CachedModel, plan: PromptPlan, prompt: str, system: str, sample: int
          ) -> list[tuple[GenRequest, int]]:
    """The generation requests of one example, each with its cache sample index.

    A variant with ``samples: N`` draws N answers for each of the run's samples:
    draw ``j`` of run sample ``s`` is index ``s * N + j`` (its own seed and cache
    entry), so a single draw keeps the index it always had.
    """
    request = generation_request(model, plan.task, prompt, plan, system)
    n = plan.variant.spec.samples
    return [(_draw(request, index), index) for index in range(sample * n, sample * n + n)]


def example_requests(model: CachedModel, plan: PromptPlan, example: Example, sample: int = 0
                     ) -> list[tuple[str, GenRequest | ScoreRequest, int]]:
    """``(kind, request, sample index)`` for what :func:`predict` sends for one example.

    A tone judge's requests are not included (they depend on the answer).
    """
    prompt, system, _ = render_prompt(model, plan, example)
    if plan.use_logprobs:
        labels = task_labels(plan.task)
        return [("score", ScoreRequest(prompt, label_continuations(prompt, labels),
                                       system=system), 0)]
    return [("generate", req, index) for req, index in draws(model, plan, prompt, system,
                                                             sample)]


def calibration_requests(plan: PromptPlan) -> list[ScoreRequest]:
    """The content-free label-scoring requests a calibrated plan sends once."""
    if not plan.variant.spec.calibrate or not plan.use_logprobs:
        return []
    labels = task_labels(plan.task)
    frame = _calibration_frame(plan.task, plan.variant, plan.shots, plan.system)
    return [ScoreRequest(p, label_continuations(p, labels), system=s)
            for p, s in (frame(text) for text in CONTENT_FREE)]


def _calibration_frame(task: Task, variant: Variant, shots: tuple[Example, ...],
                       system: SystemPrompt) -> Callable[[str], tuple[str, str]]:
    def frame(text: str) -> tuple[str, str]:
        return system.frame(variant.render(task, text, shots))

    return frame


def _generate(model: CachedModel, plan: PromptPlan, prompt: str, system: str, sample: int,
              read: Read) -> tuple[Output, Usage]:
    """Generate the variant's draws for one example and read the (majority) answer."""
    results: list[tuple[GenResponse, Usage, str | None, dict[str, Any]]] = []
    for request, index in draws(model, plan, prompt, system, sample):
        resp, usage = model.generate(request, index)
        answer, detail = read(resp.text)
        results.append((resp, usage, answer, detail))
    n = len(results)
    base = {"mode": "generate"} | ({"constrain": plan.constraint.kind}
                                   if plan.constraint else {})
    if n == 1:
        resp, usage, answer, detail = results[0]
        return Output(resp.text, answer, {**base, "finish": resp.finish_reason,
                                          **detail}), usage
    winner, votes = majority([d[2] for d in results])
    resp, _, answer, detail = results[winner if winner is not None else 0]
    usage = Usage(sum(d[1].prompt_tokens for d in results),
                  sum(d[1].completion_tokens for d in results),
                  sum(d[1].latency_s for d in results), all(d[1].cached for d in results))
    return Output(resp.text, answer if winner is not None else None,
                  {**base, "finish": resp.finish_reason, **detail, "aggregate": "majority",
                   "votes": votes, "answers": [d[2] for d in results]}), usage


def _reader(plan: PromptPlan, parse: Read) -> Read:
    """``parse`` applied to the whole text, or to a reasoning variant's final answer line."""
    if not plan.variant.spec.reasoning:
        return parse

    def read(text: str) -> tuple[str | None, dict[str, Any]]:
        line = final_answer(text)
        if line is None:
            return None, {"parse": "failed", "error": "no 'Answer:' line"}
        answer, detail = parse(line)
        return answer, {**detail, "answer_line": line}

    return read


def predict_classification(model: CachedModel, plan: PromptPlan, example: Example,
                           sample: int = 0) -> tuple[Output, Usage]:
    """Predict one example's label with the plan's variant (``sample``: which draw)."""
    labels = task_labels(plan.task)
    prompt, system, extra = render_prompt(model, plan, example)
    if plan.use_logprobs:
        lps, usage = label_logprobs(model, prompt, labels, system)
        scores = log_softmax([lps[lab] for lab in labels])
        if plan.calibration is not None:
            scores = scores - np.array([plan.calibration[lab] for lab in labels])
        best = labels[int(np.argmax(scores))]
        detail = {"mode": "logprobs", "logprobs": {k: round(v, 4) for k, v in lps.items()},
                  "calibrated": plan.calibration is not None, **extra}
        return Output(best, best, detail), usage

    def parse(text: str) -> tuple[str | None, dict[str, Any]]:
        return match_label(text, labels), {}

    out, usage = _generate(model, plan, prompt, system, sample, _reader(plan, parse))
    return replace(out, detail={**out.detail, **extra}), usage


def predict_generation(model: CachedModel, plan: PromptPlan, example: Example,
                       sample: int = 0) -> tuple[Output, Usage]:
    """Generate one example's answer and parse it (unparseable: ``prediction=None``)."""
    task = plan.task
    prompt, system, extra = render_prompt(model, plan, example)

    def parse(text: str) -> tuple[str | None, dict[str, Any]]:
        parsed = parse_output(task.spec, dict(task.resources), text)
        return parsed.prediction, dict(parsed.detail)

    out, usage = _generate(model, plan, prompt, system, sample, _reader(plan, parse))
    detail: dict[str, Any] = {**out.detail, **extra}
    if plan.judge is not None and isinstance(task.spec, ToneTask) and task.spec.judge:
        verdict, judge_usage = ask_judge(plan.judge, task.spec.judge, example,
                                         out.prediction or "")
        detail["judge"] = verdict
        usage = replace(usage, latency_s=usage.latency_s + judge_usage.latency_s)
    return replace(out, detail=detail), usage


def predict(model: CachedModel, plan: PromptPlan, example: Example,
            sample: int = 0) -> tuple[Output, Usage]:
    """Predict one example the way its task's family needs.

    ``sample`` numbers the draws of one example when a run asks for several
    (``samples: N`` with temperature > 0); each is cached on its own.
    """
    if isinstance(plan.task.spec, ClassificationTask):
        return predict_classification(model, plan, example, sample)
    return predict_generation(model, plan, example, sample)


def uses_logprobs(model: CachedModel, variant: Variant) -> bool:
    """Whether this variant scores labels by log-likelihood on this backend.

    Reasoning and self-consistency generate their answers, so they never do.

    Raises:
        UsageError: The variant asks for logprobs the backend lacks.
    """
    has = model.backend.capabilities.logprobs
    mode = variant.spec.scoring
    if mode == "logprobs" and not has:
        raise UsageError(f"variant {variant.name!r} needs logprobs, which backend "
                         f"{model.identity['backend']} does not give", variant.path,
                         variant.line_of("scoring"), hint="set scoring: generate or auto")
    if variant.spec.reasoning or variant.spec.samples > 1:
        return False
    return has if mode == "auto" else mode == "logprobs"


def preflight(model: CachedModel, task: Task, variant: Variant) -> bool:
    """Check, before any example runs, that the backend can do what the variant asks.

    Returns:
        Whether labels are scored by log-likelihood (classification only).

    Raises:
        UsageError: Logprobs or calibration the backend lacks, or an output
            constraint it cannot enforce (at the variant's ``constrain`` line).
    """
    if not isinstance(task.spec, ClassificationTask):
        use = False  # generation families always generate
    else:
        use = uses_logprobs(model, variant)
        if variant.spec.calibrate and not use:
            raise UsageError(f"variant {variant.name!r} calibrates label scores, which needs "
                             "logprobs", variant.path, variant.line_of("calibrate"),
                             hint="remove calibrate or use a backend with logprobs")
    constraint = constraint_for(task, variant)
    if constraint is not None and not use:
        check_constraint(model, constraint, variant)
    return use


def check_constraint(model: CachedModel, constraint: Constraint, variant: Variant) -> None:
    """Refuse a constraint this backend cannot enforce (never run it unconstrained).

    Raises:
        UsageError: Located at the variant's ``constrain`` line.
    """
    backend = model.backend
    try:
        require(backend.capabilities.constrain, constraint.kind,
                str(model.identity.get("backend")))
        check = getattr(backend, "check_constraint", None)
        if check is not None:
            check(constraint)
    except UsageError as exc:
        raise UsageError(f"variant {variant.name!r}: {exc.message}", variant.path,
                         variant.line_of("constrain"), hint=exc.hint) from None


def make_plan(model: CachedModel, task: Task, variant: Variant,
              shots: tuple[Example, ...] | ShotSource, calibrate: bool = True) -> PromptPlan:
    """Decide label scoring vs generation, the constraint, and calibration, once.

    Args:
        model: The model.
        task: The task.
        variant: The variant.
        shots: Fixed shots, or where they come from (:class:`ShotSelector`).
        calibrate: Compute a calibrated variant's prior now (model calls);
            ``tunegate estimate`` only counts those requests.

    Raises:
        UsageError: See :func:`preflight`.
    """
    use = preflight(model, task, variant)
    fixed = shots.shots if isinstance(shots, FixedShots) else (
        () if isinstance(shots, NearestShots) else shots)
    near = shots if isinstance(shots, NearestShots) else None
    system = SystemPrompt(variant.render_system(task), model.backend.capabilities.chat)
    plan = PromptPlan(task, variant, fixed, use, None, nearest=near,
                      constraint=None if use else constraint_for(task, variant),
                      system=system)
    if calibrate and variant.spec.calibrate and use:
        frame = _calibration_frame(task, variant, fixed, system)
        plan = replace(plan, calibration=calibration_prior(model, task_labels(task), frame))
    return plan
