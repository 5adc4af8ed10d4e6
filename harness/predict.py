"""Turning one example into an :class:`Output` through a variant and a model.

Classification prefers label scoring: the log-likelihood of every label's
full token sequence after the prompt, so the answer is always a valid label.
Without logprobs it generates and matches the answer strictly against the
labels with :func:`harness.textnorm.match_label` (an exact match first, then
the same normalisation on answer and labels; anything else is an invalid,
i.e. wrong, answer). Contextual
calibration (Zhao et al., 2021) divides each label's probability by its
probability on content-free inputs.

The generation families (format, tone, terminology) generate with the
task's ``generation`` settings (max tokens, stop sequences) and parse the
text; the raw output and the parsed answer are both kept in the
:class:`Output`. A tone task with a ``judge`` also asks the judge model
for a rubric rating here, so scoring itself never calls a model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.backends.base import GenRequest, ScoreRequest
from harness.cache import CachedModel, Usage
from harness.errors import ExampleError, UsageError
from harness.rag.knowledge import Retrieval
from harness.scoring.base import Output
from harness.scoring.judge import ask_judge
from harness.scoring.parse import parse_output
from harness.tasks import ClassificationTask, Example, Task, ToneTask
from harness.textnorm import match_label
from harness.variants.prompt import CONTENT_FREE, Variant


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


def render_prompt(model: CachedModel, plan: PromptPlan, example: Example
                  ) -> tuple[str, dict[str, Any]]:
    """The example's prompt, and for a rag variant the retrieval it used (for ``detail``).

    Raises:
        ExampleError: The template fails on this example's input (the
            runner records it against the example and goes on).
    """
    rag: dict[str, Any] = {}
    if plan.retrieval is not None:
        rag = plan.retrieval.passages(example.input, example.fields, model.backend.count_tokens)
    try:
        prompt = plan.variant.render(plan.task, example.input, plan.shots,
                                     rag.get("passages", ()))
    except UsageError as exc:
        raise ExampleError(exc.message, exc.path, exc.line, exc.hint) from None
    return prompt, rag


def label_continuations(prompt: str, labels: Sequence[str]) -> tuple[str, ...]:
    """Each label as a continuation of ``prompt`` (a space unless it ends in one)."""
    sep = "" if not prompt or prompt[-1].isspace() else " "
    return tuple(sep + lab for lab in labels)


def _log_softmax(values: Sequence[float]) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64)
    m = float(arr.max())
    out: NDArray[np.float64] = arr - (m + float(np.log(np.exp(arr - m).sum())))
    return out


def label_logprobs(model: CachedModel, prompt: str, labels: Sequence[str]
                   ) -> tuple[dict[str, float], Usage]:
    """Summed log-probability of each label's tokens after ``prompt``."""
    resp, usage = model.score(ScoreRequest(prompt, label_continuations(prompt, labels)))
    return dict(zip(labels, resp.logprobs, strict=True)), usage


def _labels(task: Task) -> list[str]:
    if not isinstance(task.spec, ClassificationTask):
        raise TypeError(f"task {task.name!r} is not a classification task")
    return list(task.spec.labels)


def calibration_prior(model: CachedModel, task: Task, variant: Variant,
                      shots: Sequence[Example]) -> dict[str, float]:
    """Mean label distribution (log) on content-free inputs, for calibration."""
    labels = _labels(task)
    probs = []
    for text in CONTENT_FREE:
        lps, _ = label_logprobs(model, variant.render(task, text, shots), labels)
        probs.append(np.exp(_log_softmax([lps[lab] for lab in labels])))
    mean = np.mean(probs, axis=0)
    # A prior that underflows to 0 would make its label always win: floor it.
    prior = np.log(np.maximum(mean / mean.sum(), 1e-30))
    return {lab: float(p) for lab, p in zip(labels, prior, strict=True)}


def max_label_tokens(model: CachedModel, labels: Sequence[str]) -> int:
    """Token budget for a generated label: the longest label plus slack."""
    return max(model.backend.count_tokens(" " + lab) for lab in labels) + 2


def generation_request(model: CachedModel, task: Task, prompt: str) -> GenRequest:
    """The request that generates an answer.

    A label's budget comes from the tokenized labels; other families use the
    task's ``generation`` settings (max tokens, stop sequences).
    """
    gen = task.spec.generation
    if isinstance(task.spec, ClassificationTask):
        return GenRequest(prompt, max_tokens=max_label_tokens(model, list(task.spec.labels)),
                          stop=("\n",), temperature=gen.temperature)
    return GenRequest(prompt, max_tokens=gen.max_tokens, stop=tuple(gen.stop),
                      temperature=gen.temperature)


def _sampled(request: GenRequest, sample: int) -> GenRequest:
    """Sample ``k`` of an example draws with its own seed (sample 0 keeps the request)."""
    return request if sample == 0 else replace(request, seed=request.seed + sample)


def predict_classification(model: CachedModel, plan: PromptPlan, example: Example,
                           sample: int = 0) -> tuple[Output, Usage]:
    """Predict one example's label with the plan's variant (``sample``: which draw)."""
    task, labels = plan.task, _labels(plan.task)
    prompt, rag = render_prompt(model, plan, example)
    if plan.use_logprobs:
        lps, usage = label_logprobs(model, prompt, labels)
        scores = _log_softmax([lps[lab] for lab in labels])
        if plan.calibration is not None:
            scores = scores - np.array([plan.calibration[lab] for lab in labels])
        best = labels[int(np.argmax(scores))]
        detail = {"mode": "logprobs", "logprobs": {k: round(v, 4) for k, v in lps.items()},
                  "calibrated": plan.calibration is not None, **rag}
        return Output(best, best, detail), usage
    resp, usage = model.generate(_sampled(generation_request(model, task, prompt), sample),
                                 sample)
    pred = match_label(resp.text, labels)
    return Output(resp.text, pred, {"mode": "generate", "finish": resp.finish_reason,
                                    **rag}), usage


def predict_generation(model: CachedModel, plan: PromptPlan, example: Example,
                       sample: int = 0) -> tuple[Output, Usage]:
    """Generate one example's answer and parse it (unparseable: ``prediction=None``)."""
    task = plan.task
    prompt, rag = render_prompt(model, plan, example)
    resp, usage = model.generate(_sampled(generation_request(model, task, prompt), sample),
                                 sample)
    parsed = parse_output(task.spec, dict(task.resources), resp.text)
    detail: dict[str, Any] = {"mode": "generate", "finish": resp.finish_reason,
                              **parsed.detail, **rag}
    if plan.judge is not None and isinstance(task.spec, ToneTask) and task.spec.judge:
        verdict, judge_usage = ask_judge(plan.judge, task.spec.judge, example,
                                         parsed.prediction or "")
        detail["judge"] = verdict
        usage = replace(usage, latency_s=usage.latency_s + judge_usage.latency_s)
    return Output(resp.text, parsed.prediction, detail), usage


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

    Raises:
        UsageError: The variant asks for logprobs the backend lacks.
    """
    has = model.backend.capabilities.logprobs
    mode = variant.spec.scoring
    if mode == "logprobs" and not has:
        raise UsageError(f"variant {variant.name!r} needs logprobs, which backend "
                         f"{model.identity['backend']} does not give", variant.path,
                         hint="set scoring: generate or auto")
    return has if mode == "auto" else mode == "logprobs"


def make_plan(model: CachedModel, task: Task, variant: Variant,
              shots: tuple[Example, ...]) -> PromptPlan:
    """Decide label scoring vs generation and compute calibration once.

    Raises:
        UsageError: The variant asks for logprobs or calibration the backend lacks.
    """
    if not isinstance(task.spec, ClassificationTask):
        # Generation families always generate; label scoring and calibration
        # settings of a variant apply to classification tasks only.
        return PromptPlan(task, variant, shots, False, None)
    use = uses_logprobs(model, variant)
    cal = None
    if variant.spec.calibrate:
        if not use:
            raise UsageError(f"variant {variant.name!r} calibrates label scores, which needs "
                             "logprobs", variant.path, hint="remove calibrate or use a "
                             "backend with logprobs")
        cal = calibration_prior(model, task, variant, shots)
    return PromptPlan(task, variant, shots, use, cal)
