"""``tunegate estimate``: what a run will send, and cost, before anything is sent.

Builds exactly the requests the runner would send (so it can tell which the
store already has cached), counts prompt tokens with each backend's own
tokenizer (no model call is made) and prices the rest with the config's
``economics`` prices when given. A ``lora`` variant whose adapter must be
trained first is listed with its estimated training time
(:mod:`harness.estimate_training`); its requests go to an adapter that does
not exist yet, so none of them is cached.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from harness.backends.base import BackendOptions, GenRequest, ScoreRequest, create
from harness.cache import CachedModel
from harness.config import RunConfig
from harness.estimate_training import TrainingPlan, plan_adapter
from harness.predict import generation_request, label_continuations, uses_logprobs
from harness.runner import sample_split
from harness.store import Store, cache_key
from harness.tasks import ClassificationTask, Task
from harness.variants.prompt import CONTENT_FREE, Variant, select_shots
from harness.variants.rag import open_for


@dataclass(frozen=True)
class EstimateRow:
    """Expected traffic of one (task, variant, model)."""

    task: str
    variant: str
    model: str
    requests: int
    cached: int
    prompt_tokens: int
    max_completion_tokens: int


def _requests(cfg: RunConfig, model: CachedModel, task: Task, variant: Variant
              ) -> Iterator[tuple[str, ScoreRequest | GenRequest]]:
    shots = select_shots(task, variant, cfg.spec.seed)
    texts = [ex.input for s in cfg.spec.splits
             for ex in sample_split(task, s, cfg.spec.limit.get(s), cfg.spec.seed)]
    n_examples = len(texts)
    if variant.spec.calibrate and isinstance(task.spec, ClassificationTask):
        texts += list(CONTENT_FREE)
    if not variant.applies_to(task):
        return
    generative = not isinstance(task.spec, ClassificationTask)
    use_lp = not generative and uses_logprobs(model, variant)
    labels = list(getattr(task.spec, "labels", []))
    # A rag variant's prompts carry the passages retrieved for each input
    # (calibration's content-free inputs go without, as in the runner).
    retrieval = open_for(task, variant, model.store.root)
    for i, text in enumerate(texts):
        passages = (retrieval.passages(text, {}, model.backend.count_tokens)["passages"]
                    if retrieval is not None and i < n_examples else ())
        prompt = variant.render(task, text, shots, passages)
        if use_lp:
            yield "score", ScoreRequest(prompt, label_continuations(prompt, labels))
        else:
            yield "generate", generation_request(model, task, prompt)


def _row(cfg: RunConfig, store: Store, model: CachedModel, task: Task, variant: Variant,
         identity: dict[str, str | None] | None, name: str) -> EstimateRow:
    """Count one (task, variant)'s requests; ``identity`` None: nothing can be cached yet."""
    n = cached = p_tok = c_tok = 0
    for kind, req in _requests(cfg, model, task, variant):
        n += 1
        p_tok += model.backend.count_tokens(req.prompt)
        c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
        if identity is not None:
            key = cache_key(identity, kind, dataclasses.asdict(req))
            cached += store.get_response(key) is not None
    return EstimateRow(task.name, variant.name, name, n, cached, p_tok, c_tok)


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
    rows, trainings = [], []
    options = BackendOptions(seed=cfg.spec.seed)
    for spec in cfg.models:
        backend = create(spec, options)
        model = CachedModel(backend, store)
        try:
            for task in cfg.tasks:
                for variant in cfg.variants:
                    if not variant.applies_to(task) or not cfg.runs(variant, spec):
                        continue
                    target, training = plan_adapter(task, variant, spec, store.root)
                    if training is not None:
                        trainings.append(training)
                        rows.append(_row(cfg, store, model, task, variant, None, str(spec)))
                    elif target == spec:
                        rows.append(_row(cfg, store, model, task, variant, backend.identity,
                                         str(spec)))
                    else:  # a trained or given adapter: its own cache keys
                        adapted = create(target, options)
                        try:
                            rows.append(_row(cfg, store, model, task, variant,
                                             adapted.identity, str(spec)))
                        finally:
                            adapted.close()
        finally:
            backend.close()
    return rows, trainings
