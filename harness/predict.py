"""Turning one example into an :class:`Output` through a variant and a model.

Classification prefers label scoring (:mod:`harness.labels`): the
log-likelihood of every label after the prompt, optionally calibrated.
Without logprobs (or with ``scoring: generate``, ``reasoning`` or
``samples``) it generates and matches the answer against the labels with
:func:`harness.textnorm.match_label` (an exact match first, then the same
normalisation on answer and labels; anything else is an invalid, i.e.
wrong, answer).

The generation families (format, tone, terminology) generate with the
task's ``generation`` settings (max tokens, stop sequences) and parse the
text; the raw output and the parsed answer are both kept in the
:class:`Output`. A tone task with a ``judge`` also asks the judge model
for a rubric rating here, so scoring itself never calls a model.

The variant's levers act here: shots per input (``shot_selection:
similar``), an output ``constraint`` sent with each generation request, a
``system`` prompt (a system message on chat backends, else prepended to the
prompt), ``reasoning`` (only the final ``Answer:`` line is read, see
:mod:`harness.reasoning`) and self-consistency (``samples`` draws, majority
answer). Plans and the requests they send: :mod:`harness.plan`. Each
:class:`Output` carries the prompt and system prompt it was made from, so the
store keeps the record whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from harness.backends.base import GenResponse
from harness.client import CachedModel, Usage
from harness.labels import (
    calibration_prior,
    label_continuations,
    label_logprobs,
    log_softmax,
    max_label_tokens,
    task_labels,
)
from harness.plan import (
    PromptPlan,
    SystemPrompt,
    calibration_requests,
    check_constraint,
    draws,
    example_requests,
    generation_request,
    make_plan,
    preflight,
    render_prompt,
    uses_logprobs,
)
from harness.reasoning import final_answer, majority
from harness.scoring.base import Output
from harness.scoring.judge import ask_judge
from harness.scoring.parse import parse_output
from harness.tasks import ClassificationTask, Example, ToneTask
from harness.textnorm import match_label

__all__ = ["PromptPlan", "SystemPrompt", "calibration_prior", "calibration_requests",
           "check_constraint", "draws", "example_requests", "generation_request",
           "label_continuations", "label_logprobs", "make_plan", "match_label",
           "max_label_tokens", "predict", "predict_classification", "predict_generation",
           "preflight", "render_prompt", "uses_logprobs"]

Read = Callable[[str], tuple[str | None, dict[str, Any]]]
"""A generated text -> (its answer or ``None``, detail)."""


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
        return Output(best, best, detail, prompt, system), usage

    def parse(text: str) -> tuple[str | None, dict[str, Any]]:
        return match_label(text, labels), {}

    out, usage = _generate(model, plan, prompt, system, sample, _reader(plan, parse))
    return replace(out, detail={**out.detail, **extra}, prompt=prompt, system=system), usage


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
    return replace(out, detail=detail, prompt=prompt, system=system), usage


def predict(model: CachedModel, plan: PromptPlan, example: Example,
            sample: int = 0) -> tuple[Output, Usage]:
    """Predict one example the way its task's family needs.

    ``sample`` numbers the draws of one example when a run asks for several
    (``samples: N`` with temperature > 0); each is cached on its own.
    """
    if isinstance(plan.task.spec, ClassificationTask):
        return predict_classification(model, plan, example, sample)
    return predict_generation(model, plan, example, sample)
