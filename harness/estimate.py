"""``tunegate estimate``: what a run will send, and cost, before anything is sent.

Counts the requests of the run's own plan (:mod:`harness.runplan`: the units
the runner executes), built exactly as the runner builds them, so it can tell
which the store already has cached and which repeat an earlier request of the
same run (the run's twin is a cache hit); it counts prompt tokens with each backend's own
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
from collections.abc import Iterator
from dataclasses import dataclass

from harness.backends.base import BackendOptions, GenRequest, ModelSpec, ScoreRequest, create
from harness.backends.context import needed_tokens
from harness.client import CachedModel, request_fields
from harness.config import RunConfig
from harness.estimate_training import plan_adapter
from harness.plan import calibration_requests, example_requests, make_plan
from harness.runplan import Group, RunPlan, plan_run, variant_group
from harness.search_run import SearchCount
from harness.store import Store, cache_key
from harness.tasks import Example, Task
from harness.variants.prompt import Variant
from harness.variants.rag import open_for
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


Identity = dict[str, str | None]


def _requests(cfg: RunConfig, model: CachedModel, group: Group, selector: ShotSelector
              ) -> Iterator[tuple[Example | None, str, ScoreRequest | GenRequest, int]]:
    """``(example, kind, request, sample index)`` of a group, exactly as the runner sends them.

    The example is ``None`` for calibration's content-free requests.
    """
    task, variant = group.task, group.variant
    source = selector.source(task, variant, cfg.spec.seed)
    plan = make_plan(model, task, variant, source, calibrate=False)
    # A rag variant's prompts carry the passages retrieved for each input
    # (calibration's content-free inputs go without, as in the runner).
    retrieval = open_for(task, variant, model.store.root)
    if retrieval is not None:
        plan = dataclasses.replace(plan, retrieval=retrieval)
    for calibration in calibration_requests(plan):
        yield None, "score", calibration, 0
    for unit in group.units:
        for kind, req, index in example_requests(model, plan, unit.example, unit.sample):
            yield unit.example, kind, req, index


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


class _Counter:
    """Counts one model's requests; a request seen before in the run counts as cached."""

    def __init__(self, cfg: RunConfig, spec: ModelSpec, model: CachedModel) -> None:
        self.cfg, self.spec, self.model = cfg, spec, model
        self.selector = ShotSelector()
        self.seen: set[str] = set()

    def row(self, group: Group, identity: Identity, fresh: bool = False,
            name: str | None = None) -> EstimateRow:
        """One group's traffic, every sample counted.

        ``fresh``: nothing can be in the store yet (an adapter still to train);
        its requests can still repeat each other within the run.
        """
        backend, store = self.model.backend, self.model.store
        n = cached = p_tok = c_tok = 0
        too_long = []
        for ex, kind, req, index in _requests(self.cfg, self.model, group, self.selector):
            n += 1
            over = _too_long(self.spec, self.model, group.task, group.variant, ex, req)
            if over is not None:
                too_long.append(over)
            p_tok += backend.count_tokens(req.system + req.prompt)
            c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
            key = cache_key(identity, kind, request_fields(req), index)
            hit = key in self.seen or (not fresh and store.get_response(key) is not None)
            cached += hit
            self.seen.add(key)
        return EstimateRow(group.task.name, name or group.variant.name, str(self.spec), n,
                           cached, p_tok, c_tok, tuple(too_long))

    def search_rows(self, count: SearchCount) -> list[EstimateRow]:
        """The prompt search's dev requests, at most (every round full), and its winner's.

        One row per candidate for the first round (every candidate runs it), one
        for the later rounds' extra examples (survivors only) and one for the
        winner's remaining dev and its test examples.
        """
        first = [("dev", ex) for ex in count.first]
        mine = [self.row(variant_group(self.cfg, count.task, c.variant, self.spec, first),
                         self.model.backend.identity) for c in count.candidates]
        requests = max(1, sum(r.requests for r in mine))
        per = sum(r.prompt_tokens for r in mine) / requests
        out = sum(r.max_completion_tokens for r in mine) / requests
        rows = list(mine)
        for name, n in (("(search: later rounds)", count.later),
                        ("(search: winner)", count.winner)):
            if n > 0:
                rows.append(EstimateRow(count.task.name, name, str(self.spec), n, 0,
                                        round(per * n), round(out * n)))
        return rows


def estimate(cfg: RunConfig, store: Store) -> list[EstimateRow]:
    """Count the run's requests and tokens without calling any model.

    Raises:
        UsageError: A backend cannot be created, or a given adapter is missing.
    """
    return count_requests(plan_run(cfg, store.root), store)


def count_requests(plan: RunPlan, store: Store) -> list[EstimateRow]:
    """Count the plan's requests and tokens, calling no model.

    Raises:
        UsageError: A backend cannot be created, or a given adapter is missing.
    """
    cfg = plan.config
    rows: list[EstimateRow] = []
    options = BackendOptions(seed=cfg.spec.seed)
    for spec in cfg.models:
        backend = create(spec, options)
        counter = _Counter(cfg, spec, CachedModel(backend, store))
        try:
            rows += [_group_row(counter, g, options) for g in plan.for_model(spec)]
            for count in plan.searches:
                rows += counter.search_rows(count)
        finally:
            backend.close()
    return rows


def _group_row(counter: _Counter, group: Group, options: BackendOptions) -> EstimateRow:
    """A group's row, keyed by the model it will really call (base, or base + adapter)."""
    base = counter.model.backend.identity
    target, training = plan_adapter(group.task, group.variant, group.model,
                                     counter.model.store.root)
    if training is not None:  # its adapter's identity is not known before it exists
        return counter.row(group, {**base, "adapter": f"to train: {training.out_dir}"},
                           fresh=True)
    if target == group.model:
        return counter.row(group, base)
    adapted = create(target, options)  # a trained or given adapter: its own cache keys
    try:
        return counter.row(group, adapted.identity)
    finally:
        adapted.close()
