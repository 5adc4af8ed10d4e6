"""``tunegate estimate``: what a run will send, and cost, before anything is sent.

Builds exactly the requests the runner would send (so it can tell which the
store already has cached), counts prompt tokens with each backend's own
tokenizer (no model call is made) and prices the rest with the config's
``economics`` prices when given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from harness.backends.base import BackendOptions, GenRequest, ScoreRequest, create
from harness.cache import CachedModel, request_fields
from harness.config import RunConfig
from harness.plan import calibration_requests, example_requests, make_plan
from harness.runner import sample_split
from harness.store import Store, cache_key
from harness.tasks import Task
from harness.variants.prompt import Variant
from harness.variants.rag import open_for
from harness.variants.shots import ShotSelector


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


def _requests(cfg: RunConfig, model: CachedModel, task: Task, variant: Variant,
              selector: ShotSelector) -> Iterator[tuple[str, ScoreRequest | GenRequest, int]]:
    """``(kind, request, sample index)`` exactly as the runner would send them."""
    if not variant.applies_to(task):
        return
    source = selector.source(task, variant, cfg.spec.seed)
    plan = make_plan(model, task, variant, source, calibrate=False)
    # A rag variant's prompts carry the passages retrieved for each input
    # (calibration's content-free inputs go without, as in the runner).
    retrieval = open_for(task, variant, model.store.root)
    if retrieval is not None:
        plan = dataclasses.replace(plan, retrieval=retrieval)
    for req in calibration_requests(plan):
        yield "score", req, 0
    for split in cfg.spec.splits:
        for ex in sample_split(task, split, cfg.spec.limit.get(split), cfg.spec.seed):
            for sample in range(cfg.spec.samples):
                yield from example_requests(model, plan, ex, sample)


def estimate(cfg: RunConfig, store: Store) -> list[EstimateRow]:
    """Count the run's requests and tokens without calling any model."""
    rows = []
    selector = ShotSelector()
    for spec in cfg.models:
        backend = create(spec, BackendOptions(seed=cfg.spec.seed))
        model = CachedModel(backend, store)
        try:
            for task in cfg.tasks:
                for variant in cfg.variants:
                    if not variant.applies_to(task):
                        continue
                    n = cached = p_tok = c_tok = 0
                    for kind, req, index in _requests(cfg, model, task, variant, selector):
                        n += 1
                        p_tok += backend.count_tokens(req.system + req.prompt)
                        c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
                        key = cache_key(backend.identity, kind, request_fields(req), index)
                        cached += store.get_response(key) is not None
                    rows.append(EstimateRow(task.name, variant.name, str(spec), n, cached,
                                            p_tok, c_tok))
        finally:
            backend.close()
    return rows
