"""``tunegate estimate``: what a run will send, and cost, before anything is sent.

Builds exactly the requests the runner would send (so it can tell which the
store already has cached), counts prompt tokens with each backend's own
tokenizer (no model call is made) and prices the rest with the config's
``economics`` prices when given. Where a backend enforces a context window
(the local ones), it also lists the examples whose request will not fit:
the run records each as a failed example, so they are worth knowing first.
A ``lora`` variant whose adapter must be trained first is listed with its
estimated training time (:mod:`harness.estimate_training`); its requests go
to an adapter that does not exist yet, so none of them is cached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from harness.backends.base import BackendOptions, GenRequest, ModelSpec, ScoreRequest, create
from harness.backends.context import needed_tokens
from harness.client import CachedModel, request_fields
from harness.config import RunConfig
from harness.estimate_training import TrainingPlan, plan_adapter
from harness.plan import calibration_requests, example_requests, make_plan
from harness.sampling import sample_split
from harness.search_run import dev_order
from harness.store import Store, cache_key
from harness.tasks import Example, Task
from harness.variants.prompt import Variant
from harness.variants.rag import open_for
from harness.variants.search import fitting, round_requests, task_schedule
from harness.variants.shots import ShotSelector


@dataclass(frozen=True)
class TooLong:
    """An example whose request needs more tokens than the model's context."""

    task: str
    variant: str
    model: str
    example_id: str
    source: str
    line: int
    tokens: int
    n_ctx: int

    def describe(self) -> str:
        """``file:line: task T, example ID: N tokens, context C (variant V, model M)``."""
        return (f"{self.source}:{self.line}: task {self.task}, example {self.example_id}: "
                f"{self.tokens} tokens, context {self.n_ctx} (variant {self.variant}, "
                f"model {self.model})")


@dataclass(frozen=True)
class EstimateRow:
    """Expected traffic of one (task, variant, model), and its examples that will not fit."""

    task: str
    variant: str
    model: str
    requests: int
    cached: int
    prompt_tokens: int
    max_completion_tokens: int
    too_long: tuple[TooLong, ...] = ()


def _requests(cfg: RunConfig, model: CachedModel, task: Task, variant: Variant,
              selector: ShotSelector, only: Sequence[Example] | None = None
              ) -> Iterator[tuple[Example | None, str, ScoreRequest | GenRequest, int]]:
    """``(example, kind, request, sample index)`` exactly as the runner would send them.

    The example is ``None`` for calibration's content-free requests; ``only``:
    these examples instead of the config's splits (a search round).
    """
    if not variant.applies_to(task):
        return
    source = selector.source(task, variant, cfg.spec.seed)
    plan = make_plan(model, task, variant, source, calibrate=False)
    # A rag variant's prompts carry the passages retrieved for each input
    # (calibration's content-free inputs go without, as in the runner).
    retrieval = open_for(task, variant, model.store.root)
    if retrieval is not None:
        plan = dataclasses.replace(plan, retrieval=retrieval)
    for calibration in calibration_requests(plan):
        yield None, "score", calibration, 0
    examples = list(only) if only is not None else [
        ex for split in cfg.spec.splits
        for ex in sample_split(task, split, cfg.spec.limit.get(split), cfg.spec.seed)]
    for ex in examples:
        for sample in range(cfg.spec.samples):
            for kind, req, index in example_requests(model, plan, ex, sample):
                yield ex, kind, req, index


def _too_long(spec: ModelSpec, model: CachedModel, task: Task, variant: Variant,
              ex: Example | None, req: ScoreRequest | GenRequest) -> TooLong | None:
    """The example's entry when its request does not fit the backend's context."""
    n_ctx = model.backend.capabilities.n_ctx
    if ex is None or n_ctx is None:
        return None
    n, _ = needed_tokens(req, model.backend.count_tokens)
    if n <= n_ctx:
        return None
    return TooLong(task.name, variant.name, str(spec), ex.id, ex.source, ex.line, n, n_ctx)


def _row(cfg: RunConfig, spec: ModelSpec, model: CachedModel, task: Task, variant: Variant,
         identity: dict[str, str | None] | None, selector: ShotSelector,
         only: Sequence[Example] | None = None) -> EstimateRow:
    """One (task, variant, model)'s traffic, every sample counted.

    ``identity`` None: nothing can be cached yet (an adapter still to train).
    """
    backend, store = model.backend, model.store
    n = cached = p_tok = c_tok = 0
    too_long = []
    for ex, kind, req, index in _requests(cfg, model, task, variant, selector, only):
        n += 1
        over = _too_long(spec, model, task, variant, ex, req)
        if over is not None:
            too_long.append(over)
        p_tok += backend.count_tokens(req.system + req.prompt)
        c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
        if identity is not None:
            key = cache_key(identity, kind, request_fields(req), index)
            cached += store.get_response(key) is not None
    return EstimateRow(task.name, variant.name, str(spec), n, cached, p_tok, c_tok,
                       tuple(too_long))


def _search_rows(cfg: RunConfig, spec: ModelSpec, model: CachedModel,
                 selector: ShotSelector) -> list[EstimateRow]:
    """The prompt search's dev requests, at most (every round full), and its winner's.

    One row per candidate for the first round (every candidate runs it), one
    for the later rounds' extra examples (survivors only) and one for the
    winner's remaining dev and its test examples.
    """
    search = cfg.spec.prompt_search
    if search is None:
        return []
    samples = cfg.spec.samples
    searched = [t for t in cfg.tasks if fitting(t, cfg.candidates)]
    rows = []
    for task in searched:
        cands = fitting(task, cfg.candidates)
        dev = sample_split(task, "dev", cfg.spec.limit.get("dev"), cfg.spec.seed)
        test = sample_split(task, "test", cfg.spec.limit.get("test"), cfg.spec.seed)
        rounds = task_schedule(search, len(cands), len(dev), samples, len(searched))
        first = dev_order(task, dev, cfg.spec.seed)[: rounds[0].examples]
        mine = [_row(cfg, spec, model, task, c.variant, model.backend.identity, selector,
                     first) for c in cands]
        rows += mine
        per = sum(r.prompt_tokens for r in mine) / max(1, sum(r.requests for r in mine))
        out = sum(r.max_completion_tokens for r in mine) / max(1, sum(r.requests for r in mine))
        later = round_requests(rounds, samples) - len(cands) * rounds[0].examples * samples
        won = (len(dev) - rounds[-1].examples + len(test)) * samples
        for name, n in (("(search: later rounds)", later), ("(search: winner)", won)):
            if n > 0:
                rows.append(EstimateRow(task.name, name, str(spec), n, 0, round(per * n),
                                        round(out * n)))
    return rows


def estimate(cfg: RunConfig, store: Store) -> list[EstimateRow]:
    """Count the run's requests and tokens without calling any model.

    Raises:
        UsageError: A backend cannot be created, or a given adapter is missing.
    """
    return plan_run(cfg, store)[0]


def plan_run(cfg: RunConfig, store: Store) -> tuple[list[EstimateRow], list[TrainingPlan]]:
    """Count the run's requests and tokens, and the adapters it trains first, calling no model.

    Raises:
        UsageError: A backend cannot be created, or a given adapter is missing.
    """
    rows: list[EstimateRow] = []
    trainings: list[TrainingPlan] = []
    selector = ShotSelector()
    options = BackendOptions(seed=cfg.spec.seed)
    for spec in cfg.models:
        backend = create(spec, options)
        model = CachedModel(backend, store)
        try:
            for task in cfg.tasks:
                for variant in cfg.variants:
                    if not variant.applies_to(task) or not cfg.runs(variant, spec):
                        continue
                    rows.append(_planned_row(cfg, spec, model, task, variant, options,
                                             trainings, selector))
            rows += _search_rows(cfg, spec, model, selector)
        finally:
            backend.close()
    return rows, trainings


def _planned_row(cfg: RunConfig, spec: ModelSpec, model: CachedModel, task: Task,
                 variant: Variant, options: BackendOptions, trainings: list[TrainingPlan],
                 selector: ShotSelector) -> EstimateRow:
    """A variant's row, keyed by the model it will really call (base, or base + adapter)."""
    target, training = plan_adapter(task, variant, spec, model.store.root)
    if training is not None:
        trainings.append(training)
        return _row(cfg, spec, model, task, variant, None, selector)
    if target == spec:
        return _row(cfg, spec, model, task, variant, model.backend.identity, selector)
    adapted = create(target, options)  # a trained or given adapter: its own cache keys
    try:
        return _row(cfg, spec, model, task, variant, adapted.identity, selector)
    finally:
        adapted.close()
