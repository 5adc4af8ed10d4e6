"""``tunegate estimate``: what a run will send, and cost, before anything is sent.

Builds exactly the requests the runner would send (so it can tell which the
store already has cached), counts prompt tokens with each backend's own
tokenizer (no model call is made) and prices the rest with the config's
``economics`` prices when given. Where a backend enforces a context window
(the local ones), it also lists the examples whose request will not fit:
the run records each as a failed example, so they are worth knowing first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from harness.backends.base import BackendOptions, GenRequest, ModelSpec, ScoreRequest, create
from harness.backends.context import needed_tokens
from harness.cache import CachedModel
from harness.config import RunConfig
from harness.predict import generation_request, label_continuations, uses_logprobs
from harness.runner import sample_split
from harness.store import Store, cache_key
from harness.tasks import ClassificationTask, Example, Task
from harness.variants.prompt import CONTENT_FREE, Variant, select_shots
from harness.variants.rag import open_for


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


def _requests(cfg: RunConfig, model: CachedModel, task: Task, variant: Variant
              ) -> Iterator[tuple[Example | None, str, ScoreRequest | GenRequest]]:
    """Each request the runner would send, with its example (``None``: calibration)."""
    shots = select_shots(task, variant, cfg.spec.seed)
    examples: list[Example | None] = [
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


def estimate(cfg: RunConfig, store: Store) -> list[EstimateRow]:
    """Count the run's requests and tokens without calling any model."""
    rows = []
    for spec in cfg.models:
        backend = create(spec, BackendOptions(seed=cfg.spec.seed))
        model = CachedModel(backend, store)
        try:
            for task in cfg.tasks:
                for variant in cfg.variants:
                    if not variant.applies_to(task):
                        continue
                    n = cached = p_tok = c_tok = 0
                    too_long = []
                    for ex, kind, req in _requests(cfg, model, task, variant):
                        n += 1
                        over = _too_long(spec, model, task, variant, ex, req)
                        if over is not None:
                            too_long.append(over)
                        p_tok += backend.count_tokens(req.prompt)
                        c_tok += req.max_tokens if isinstance(req, GenRequest) else 0
                        key = cache_key(backend.identity, kind, dataclasses.asdict(req))
                        cached += store.get_response(key) is not None
                    rows.append(EstimateRow(task.name, variant.name, str(spec), n, cached,
                                            p_tok, c_tok, tuple(too_long)))
        finally:
            backend.close()
    return rows
