"""Running a config: tasks x variants x models over dev and test, into the store.

Work is grouped by (task, model, variant) so a prompt prefix shared by all
examples (the few-shot block) stays warm in a local model. Each example's
record is committed as soon as it is scored, so Ctrl-C or a kill loses only
the requests in flight; the next ``tunegate run`` of the same config resumes
the unfinished run and skips everything already stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.backends.base import (
    BackendOptions,
    ModelSpec,
    TransientBackendError,
    create,
    parse_spec,
)
from harness.cache import CachedModel, Usage
from harness.config import RunConfig
from harness.errors import UsageError
from harness.predict import PromptPlan, make_plan, predict, preflight
from harness.scoring.base import Output, score_all
from harness.store import Record, Store
from harness.tasks import Example, Task
from harness.variants.lora import resolve_adapter
from harness.variants.prompt import Variant
from harness.variants.rag import open_for
from harness.variants.shots import ShotSelector

log = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RunResult:
    """What a run did: its id, how many model calls and cache hits it made."""

    run_id: str
    resumed: bool
    model_calls: int
    cache_hits: int
    retries: int
    records: int
    skipped: int
    errors: int


def new_run_id(config_digest: str) -> str:
    """``YYYYmmdd-HHMMSS-<digest6>``: sortable and traceable to its config."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")[:-3]
    return f"{stamp}-{config_digest[:6]}"


def sample_split(task: Task, split: str, limit: int | None, seed: int) -> tuple[Example, ...]:
    """The split's examples, or a seeded subset of ``limit`` of them (stable order)."""
    rows = task.split(split)
    if limit is None or limit >= len(rows):
        return rows

    def rank(ex: Example) -> str:
        return hashlib.sha256(f"{seed}:{ex.id}".encode()).hexdigest()

    keep = {ex.id for ex in sorted(rows, key=rank)[:limit]}
    return tuple(ex for ex in rows if ex.id in keep)


@dataclass(frozen=True)
class _Unit:
    task: Task
    variant: Variant
    model: ModelSpec
    split: str
    example: Example
    sample: int = 0


def _score(unit: _Unit, output: Output) -> dict[str, object]:
    return dict(score_all(unit.task, unit.example, output))


def _record(run_id: str, unit: _Unit, output: Output | None, usage: Usage | None,
            error: str | None) -> Record:
    out = {"text": output.text, "prediction": output.prediction,
           "detail": dict(output.detail)} if output else {}
    return Record(run_id, unit.task.name, unit.task.digest, unit.variant.name,
                  str(unit.model), unit.split, unit.example.id, unit.sample, unit.example.target,
                  out, _score(unit, output) if output else {},
                  usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                  usage.latency_s if usage else 0.0, usage.cached if usage else False, error)


MANY_ECHO_REQUESTS = 1000


def warn_echo_volume(model: CachedModel, plan: PromptPlan, n_examples: int,
                     label: str) -> int:
    """Warn before a group that will send thousands of echo-logprob requests.

    Returns:
        The number of echo requests the group would send (0 when not echo scoring).
    """
    if not (plan.use_logprobs and model.backend.capabilities.remote_echo_scoring):
        return 0
    labels = getattr(plan.task.spec, "labels", None) or {}
    n = n_examples * len(labels)
    if n >= MANY_ECHO_REQUESTS:
        log.warning("%s: this will send about %d echo-logprob requests to %s (one per label; "
                    "about 20 s each on llama.cpp's server with a 262k vocabulary): score "
                    "labels in-process (embedded, hf:) or set scoring: generate for volume",
                    label, n, model.identity.get("backend"))
    return n


class Runner:
    """Executes one config against one store.

    Args:
        config: The loaded run config.
        store: The store to read and write.
        options: Backend creation options.
        progress: Called as ``(done, total, label)`` after each example.
        fresh: Ignore cached responses (still writing new ones): a nightly job
            against a model that may have changed behind the same name.
    """

    def __init__(self, config: RunConfig, store: Store, options: BackendOptions,
                 progress: Progress | None = None, fresh: bool = False) -> None:
        self.config = config
        self.fresh = fresh
        self.store = store
        self.options = options
        self.progress = progress or (lambda done, total, label: None)
        self.shots = ShotSelector()

    def _units(self, model: ModelSpec, done: set[tuple[str, str, str, str, str, int]]
               ) -> Iterator[tuple[Task, Variant, list[_Unit]]]:
        spec = self.config.spec
        for task in self.config.tasks:
            for variant in self.config.variants:
                if not variant.applies_to(task) or not self.config.runs(variant, model):
                    continue
                units = []
                for split in spec.splits:
                    for ex in sample_split(task, split, spec.limit.get(split), spec.seed):
                        for k in range(spec.samples):
                            key = (task.name, variant.name, str(model), split, ex.id, k)
                            if key not in done:
                                units.append(_Unit(task, variant, model, split, ex, k))
                yield task, variant, units

    def _total(self) -> int:
        spec = self.config.spec
        per_sample = sum(len(sample_split(t, s, spec.limit.get(s), spec.seed))
                         for m in self.config.models for t in self.config.tasks
                         for s in spec.splits for v in self.config.variants
                         if v.applies_to(t) and self.config.runs(v, m))
        return spec.samples * per_sample

    def run(self) -> RunResult:
        """Run (or resume) the config; returns counts. Re-raises KeyboardInterrupt."""
        cfg = self.config
        run_id = self.store.resumable_run(cfg.digest)
        resumed = run_id is not None
        if run_id is None:
            run_id = new_run_id(cfg.digest)
            self.store.create_run(run_id, str(cfg.path), cfg.digest, cfg.to_json())
        else:
            self.store.claim_run(run_id)
        done = self.store.done_keys(run_id)
        total, finished = self._total(), len(done)
        counts = {"records": 0, "errors": 0, "calls": 0, "hits": 0, "retries": 0}
        status = "interrupted"
        try:
            for spec in cfg.models:
                self._run_model(run_id, spec, done, counts, total, finished)
                finished = len(self.store.done_keys(run_id))
            status = "done" if counts["errors"] == 0 else "incomplete"
        finally:
            self.store.finish_run(run_id, status, counts["calls"])
        return RunResult(run_id, resumed, counts["calls"], counts["hits"], counts["retries"],
                         counts["records"], len(done), counts["errors"])

    def _run_model(self, run_id: str, spec: ModelSpec,
                   done: set[tuple[str, str, str, str, str, int]],
                   counts: dict[str, int], total: int, finished: int) -> None:
        groups = [g for g in self._units(spec, done) if g[2]]
        models: dict[str, CachedModel] = {}
        try:
            for task, variant, _ in groups:  # refuse what the backend cannot do, up front
                if variant.spec.kind != "lora":
                    preflight(self._model(spec, models), task, variant)
            with ThreadPoolExecutor(max_workers=self.config.spec.concurrency) as pool:
                for task, variant, units in groups:
                    resolved = resolve_adapter(task, variant, spec, self.store.root,
                                               lambda line: log.info("train: %s", line))
                    if resolved.training is not None:
                        # Several models: the analysis names variants "variant@model".
                        name = (variant.name if len(self.config.models) == 1
                                else f"{variant.name}@{spec}")
                        self.store.put_training(run_id, task.name, name, resolved.training)
                    model = self._model(resolved.spec, models)
                    shots = self.shots.source(task, variant, self.config.spec.seed)
                    plan = make_plan(model, task, variant, shots)
                    judge = getattr(task.spec, "judge", None)
                    if judge is not None:
                        plan = dataclasses.replace(
                            plan, judge=self._model(parse_spec(judge.model), models))
                    if variant.spec.kind == "rag":
                        plan = dataclasses.replace(
                            plan, retrieval=open_for(task, variant, self.store.root))
                    finished = self._run_group(run_id, model, plan, units, pool, counts,
                                               total, finished)
        finally:
            for model in models.values():
                counts["calls"] += model.calls
                counts["hits"] += model.hits
                counts["retries"] += model.retries
                model.backend.close()

    def _model(self, spec: ModelSpec, models: dict[str, CachedModel]) -> CachedModel:
        """The cached model for ``spec`` (base or base + adapter), created once."""
        key = str(spec)
        if key not in models:
            try:
                backend = create(spec, self.options)
            except UsageError as exc:  # say which config and model it came from
                if exc.path is not None:
                    raise
                raise UsageError(f"model {spec.backend}:{spec.model}: {exc.message}",
                                 self.config.path, hint=exc.hint) from None
            models[key] = CachedModel(backend, self.store,
                                      max_retries=self.config.spec.max_retries,
                                      seed=self.config.spec.seed, read_cache=not self.fresh)
        return models[key]

    def _run_group(self, run_id: str, model: CachedModel, plan: PromptPlan,
                   units: list[_Unit], pool: ThreadPoolExecutor, counts: dict[str, int],
                   total: int, finished: int) -> int:
        pending: dict[Future[tuple[Output, Usage]], _Unit] = {}
        queue = iter(units)
        label = f"{plan.task.name}/{plan.variant.name}"
        warn_echo_volume(model, plan, len(units), label)
        limit = 2 * min(self.config.spec.concurrency,
                        model.backend.capabilities.max_concurrency)
        try:
            while True:
                for unit in queue:
                    pending[pool.submit(predict, model, plan, unit.example, unit.sample)] = unit
                    if len(pending) >= limit:
                        break
                if not pending:
                    return finished
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in ready:
                    unit = pending.pop(fut)
                    try:
                        output, usage = fut.result()
                        rec = _record(run_id, unit, output, usage, None)
                    except TransientBackendError as exc:
                        log.warning("%s %s: %s", label, unit.example.id, exc)
                        rec = _record(run_id, unit, None, None, f"transient: {exc}")
                        counts["errors"] += 1
                    self.store.put_record(rec)
                    counts["records"] += 1
                    finished += 1
                    self.progress(finished, total, label)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise

