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
from harness.cache import CachedModel
from harness.config import RunConfig
from harness.estimate_training import TrainingPlan, plan_adapter
from harness.predict import generation_request, label_continuations, uses_logprobs
from harness.sampling import sample_split
from harness.search_run import dev_order
from harness.store import Store, cache_key
from harness.tasks import ClassificationTask, Example, Task
from harness.variants.prompt import CONTENT_FREE, Variant, select_shots
from harness.variants.rag import open_for
from harness.variants.search import fitting, round_requests, task_schedule


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
              only: Sequence[Example] | None = None
              ) -> Iterator[tuple[Example | None, str, ScoreRequest | GenRequest]]:
    """Each request the runner would send, with its example (``None``: calibration).

    ``only``: these examples instead of the config's splits (a search round).
    """
    shots = select_shots(task, variant, cfg.spec.seed)
    examples: list[Example | None] = list(only) if only is not None else [
        ex for s in cfg.spec.splits
        for ex in sample_split(task, s, cfg.spec.limit.get(s), cfg.spec.seed)]
    texts = [ex.input for ex in examples if ex is not None]
    n_examples = len(texts)
    if variant.spec.calibrate and isinstance(task.spec, ClassificationTask):
        texts += list(CONTENT_FREE)
        examples += [None] * len(CONTENT_FREE)
    if not variant.applies_to(task):
        return
    generative = not isinstance(task.spec, ClassificationTask)
    use_lp = not generative and uses_logprobs(model, variant)
    labels = list(getattr(task.spec, "labels", []))
    # A rag variant's prompts carry the passages retrieved for each input
    # (calibration's content-free inputs go without, as in the runner).
    retrieval = open_for(task, variant, model.store.root)
    for i, (text, ex) in enumerate(zip(texts, examples, strict=True)):
        passages = (retrieval.passages(text, {}, model.backend.count_tokens)["passages"]
                    if retrieval is not None and i < n_examples else ())
        prompt = variant.render(task, text, shots, passages)
        if use_lp:
            yield ex, "score", ScoreRequest(prompt, label_continuations(prompt, labels))
        else:
            yield ex, "generate", generation_request(model, task, prompt)


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
         identity: dict[str, str | None] | None, only: Sequence[Example] | None = None,
         samples: int = 1) -> EstimateRow:
    """One (task, variant, model)'s traffic, ``samples`` requests per example.

    ``identity`` None: nothing can be cached yet (an adapter still to train).
    """
    backend, store = model.backend, model.store
    n = cached = p_tok = c_tok = 0
    too_long = []
    for ex, kind, req in _requests(cfg, model, task, variant, only):
        n += 1
        over = _too_long(spec, model, task, variant, ex, req)
        if over is not None:
            too_long.append(over)
        p_tok += backend.count_tokens(req.prompt)
        c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
        if identity is not None:
            key = cache_key(identity, kind, dataclasses.asdict(req))
            cached += store.get_response(key) is not None
    return EstimateRow(task.name, variant.name, str(spec), n * samples, cached * samples,
                       p_tok * samples, c_tok * samples, tuple(too_long))


def _search_rows(cfg: RunConfig, spec: ModelSpec, model: CachedModel) -> list[EstimateRow]:
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
        mine = [_row(cfg, spec, model, task, c.variant, model.backend.identity, first, samples)
                for c in cands]
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
                                             trainings))
            rows += _search_rows(cfg, spec, model)
        finally:
            backend.close()
    return rows, trainings


def _planned_row(cfg: RunConfig, spec: ModelSpec, model: CachedModel, task: Task,
                 variant: Variant, options: BackendOptions, trainings: list[TrainingPlan]
                 ) -> EstimateRow:
    """A variant's row, keyed by the model it will really call (base, or base + adapter)."""
    target, training = plan_adapter(task, variant, spec, model.store.root)
    if training is not None:
        trainings.append(training)
        return _row(cfg, spec, model, task, variant, None)
    if target == spec:
        return _row(cfg, spec, model, task, variant, model.backend.identity)
    adapted = create(target, options)  # a trained or given adapter: its own cache keys
    try:
        return _row(cfg, spec, model, task, variant, adapted.identity)
    finally:
        adapted.close()
