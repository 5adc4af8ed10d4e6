"""Prompt plans: everything fixed for one (task, variant, model) before examples run.

:func:`make_plan` decides label scoring vs generation, the output constraint
and the system prompt's form, and computes calibration once;
:func:`preflight` checks up front what the backend must be able to do (a run
calls it for every group before the first example). The request builders
here (:func:`generation_request`, :func:`draws`, :func:`example_requests`,
:func:`calibration_requests`) are what :mod:`harness.predict` sends, and what
``tunegate estimate`` counts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from harness.backends.base import GenRequest, ScoreRequest
from harness.backends.constrain import Constraint, require
from harness.client import CachedModel
from harness.errors import ExampleError, UsageError
from harness.labels import (
    calibration_prior,
    label_continuations,
    max_label_tokens,
    task_labels,
)
from harness.rag.knowledge import Retrieval
from harness.tasks import ClassificationTask, Example, Task
from harness.variants.levers import constraint_for
from harness.variants.prompt import CONTENT_FREE, Variant
from harness.variants.shots import FixedShots, NearestShots, ShotSource
from harness.variants.spec import conflicts
from harness.yamlio import load_yaml


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

    Raises:
        ExampleError: The template fails on this example's input (the
            runner records it against the example and goes on).
    """
    shots = plan.shots_for(example)
    extra: dict[str, Any] = {"shots": [s.id for s in shots]} if plan.nearest else {}
    rag: dict[str, Any] = {}
    if plan.retrieval is not None:
        rag = plan.retrieval.passages(example.input, example.fields,
                                      model.backend.count_tokens)
        extra.update(rag)
    try:
        text = plan.variant.render(plan.task, example.input, shots, rag.get("passages", ()))
    except UsageError as exc:
        raise ExampleError(exc.message, exc.path, exc.line, exc.hint) from None
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
        UsageError: Levers that contradict each other (a variant built in code,
            such as a search candidate), logprobs or calibration the backend
            lacks, or an output constraint it cannot enforce (at the variant's
            ``constrain`` line).
    """
    for key, message, hint in conflicts(variant.spec):  # a variant built in code
        raise UsageError(f"variant {variant.name!r}: {message}", variant.path,
                         variant.line_of(key), hint=hint)
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
        check_constraint(model, constraint, variant, task)
    return use


def check_constraint(model: CachedModel, constraint: Constraint, variant: Variant,
                     task: Task | None = None) -> None:
    """Refuse a constraint this backend cannot enforce (never run it unconstrained).

    Raises:
        UsageError: A backend that cannot constrain this kind, at the variant's
            ``constrain`` line; a regex or schema its grammar builder cannot
            take, at the task's ``regex`` or ``schema`` line.
    """
    backend = model.backend
    try:
        require(backend.capabilities.constrain, constraint.kind,
                str(model.identity.get("backend")))
    except UsageError as exc:
        raise UsageError(f"variant {variant.name!r}: {exc.message}", variant.path,
                         variant.line_of("constrain"), hint=exc.hint) from None
    check = getattr(backend, "check_constraint", None)
    if check is None:
        return
    try:
        check(constraint)
    except UsageError as exc:
        if task is None or constraint.kind == "labels":
            raise UsageError(f"variant {variant.name!r}: {exc.message}", variant.path,
                             variant.line_of("constrain"), hint=exc.hint) from None
        raise UsageError(f"task {task.name!r}: {exc.message}", task.path,
                         task_line(task, constraint.kind), hint=exc.hint) from None


def task_line(task: Task, key: str) -> int | None:
    """The line of a top-level key in the task file (``None`` if it cannot be read)."""
    try:
        return load_yaml(task.path).line_of((key,))
    except UsageError:
        return None


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
