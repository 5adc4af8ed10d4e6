"""Running a config: tasks x variants x models over dev and test, into the store.

Work is grouped by (task, model, variant) so a prompt prefix shared by all
examples (the few-shot block) stays warm in a local model. Each example's
record is committed as soon as it is scored, so Ctrl-C or a kill loses only
the requests in flight; the next ``tunegate run`` of the same config resumes
the unfinished run and skips everything already stored.

One bad example never stops a run: a transient failure after its retries,
or an :class:`~harness.errors.ExampleError` (an input longer than the
context, a request the server refuses, a template that fails on this input)
is recorded as that example's error, with its ``file:line``, and the run
goes on. Only when the first :data:`STOP_AFTER_FAILURES` examples of a
group all fail, and none of it ever succeeded, is the cause taken to be the
configuration and the run stopped with it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence
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
from harness.client import CachedModel, Usage
from harness.config import RunConfig
from harness.errors import ExampleError, UsageError
from harness.predict import PromptPlan, make_plan, predict, preflight
from harness.progress import ExampleCallback, RunListener, StepTracker, as_listener
from harness.runplan import Group, RunPlan, UnitKey, plan_run, variant_group
from harness.runplan import Unit as _Unit
from harness.scoring.base import Output, score_all, scorer_identities
from harness.search_run import run_searches
from harness.store import Record, Store
from harness.tasks import Example, Task
from harness.variants.lora import resolve_adapter
from harness.variants.prompt import Variant
from harness.variants.rag import open_for
from harness.variants.search import Candidate, fitting
from harness.variants.shots import ShotSelector

log = logging.getLogger(__name__)
Progress = RunListener | ExampleCallback


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


def _score(unit: _Unit, output: Output) -> dict[str, object]:
    return dict(score_all(unit.task, unit.example, output))


def _record(run_id: str, unit: _Unit, output: Output | None, usage: Usage | None,
            error: str | None) -> Record:
    out = {"text": output.text, "prediction": output.prediction,
           "detail": dict(output.detail)} if output else {}
    ex = unit.example
    return Record(run_id, unit.task.name, unit.task.digest, unit.variant.name,
                  str(unit.model), unit.split, unit.example.id, unit.sample, unit.example.target,
                  out, _score(unit, output) if output else {},
                  usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                  usage.latency_s if usage else 0.0, usage.cached if usage else False, error,
                  input=ex.input, fields=dict(ex.fields),
                  prompt=output.prompt if output else None,
                  system=output.system if output else None,
                  scorers=scorer_identities(unit.task) if output else None)


MANY_ECHO_REQUESTS = 1000
STOP_AFTER_FAILURES = 8
"""A group whose first this-many examples all fail (nothing stored before) stops the run."""


def example_error(unit: _Unit, exc: ExampleError) -> str:
    """The stored error of one example: where the row is, its id, and what went wrong."""
    ex = unit.example
    where = f"{ex.source}:{ex.line}: " if ex.source else ""
    return f"{where}example {ex.id}: {exc.one_line()}"


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
        progress: A :class:`~harness.progress.RunListener` (steps, examples, training
            lines), or a callable called as ``(done, total, label)`` after each example.
        fresh: Ignore cached responses (still writing new ones): a nightly job
            against a model that may have changed behind the same name.
        plan: The units to execute (:func:`harness.runplan.plan_run` of the
            config when not given).
    """

    def __init__(self, config: RunConfig, store: Store, options: BackendOptions,
                 progress: Progress | None = None, fresh: bool = False,
                 plan: RunPlan | None = None) -> None:
        self.config = config
        self.plan = plan if plan is not None else plan_run(config, store.root)
        self.fresh = fresh
        self.store = store
        self.options = options
        self.progress = as_listener(progress)
        self.shots = ShotSelector()

    def _units(self, model: ModelSpec, done: set[UnitKey],
               winners: dict[str, Variant] | None = None
               ) -> Iterator[tuple[Group, list[_Unit], int]]:
        """Each of the plan's groups with its units still to run, and how many are stored.

        ``winners``: each task's prompt-search winner, run like a config variant.
        """
        for group in self.plan.for_model(model, winners):
            units = [u for u in group.units if u.key not in done]
            yield group, units, len(group.units) - len(units)

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
        total, finished = self.plan.total, len(done)
        self.progress.run_started(run_id, total, finished, resumed)
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
        models: dict[str, CachedModel] = {}
        try:
            self._preflight(spec, models)
            with ThreadPoolExecutor(max_workers=self.config.spec.concurrency) as pool:
                winners, finished = self._search(run_id, spec, models, pool, counts, total,
                                                 finished)
                if winners:
                    done = self.store.done_keys(run_id)
                groups = [g for g in self._units(spec, done, winners) if g[1]]
                for group, units, stored in groups:
                    model, plan = self._plan(run_id, group.task, group.variant, spec, models)
                    finished = self._run_group(run_id, model, plan, units, pool, counts,
                                               total, finished, stored)
                    if plan.retrieval is not None:
                        plan.retrieval.warn_no_passage()
        finally:
            for model in models.values():
                counts["calls"] += model.calls
                counts["hits"] += model.hits
                counts["retries"] += model.retries
                model.backend.close()

    def _preflight(self, spec: ModelSpec, models: dict[str, CachedModel]) -> None:
        """Refuse what the backend cannot do (a constraint, a system prompt) before any work.

        Raises:
            UsageError: A prompt variant or search candidate the model cannot serve.
        """
        cfg = self.config
        pairs = [(t, v) for t in cfg.tasks for v in cfg.variants
                 if v.applies_to(t) and cfg.runs(v, spec) and v.spec.kind != "lora"]
        pairs += [(t, c.variant) for t in cfg.tasks for c in fitting(t, cfg.candidates)]
        for task, variant in pairs:
            preflight(self._model(spec, models), task, variant)

    def _plan(self, run_id: str, task: Task, variant: Variant, spec: ModelSpec,
              models: dict[str, CachedModel]) -> tuple[CachedModel, PromptPlan]:
        """The model (trained adapter included) and prompt plan of one group."""
        resolved = resolve_adapter(task, variant, spec, self.store.root,
                                   self._training_lines(task, variant))
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
        return model, plan

    def _search(self, run_id: str, spec: ModelSpec, models: dict[str, CachedModel],
                pool: ThreadPoolExecutor, counts: dict[str, int], total: int, finished: int
                ) -> tuple[dict[str, Variant], int]:
        """Run the prompt search of every task on dev; each task's winner, and units done."""
        done_units = [finished]

        def run_candidate(task: Task, cand: Candidate, examples: Sequence[Example]) -> None:
            done = self.store.done_keys(run_id)
            group = variant_group(self.config, task, cand.variant, spec,
                                  [("dev", ex) for ex in examples])
            units = [u for u in group.units if u.key not in done]
            if units:
                model, plan = self._plan(run_id, task, cand.variant, spec, models)
                done_units[0] = self._run_group(run_id, model, plan, units, pool, counts,
                                                total, done_units[0])

        winners = run_searches(self.config, self.store, run_id, spec, run_candidate,
                               self.progress.note)
        return winners, done_units[0]

    def _training_lines(self, task: Task, variant: Variant) -> Callable[[str], None]:
        """Where an on-the-spot training's stage and epoch lines go."""
        def line(text: str) -> None:
            self.progress.note(f"train {task.name}/{variant.name}: {text}")

        return line

    def _model(self, spec: ModelSpec, models: dict[str, CachedModel]) -> CachedModel:
        """The cached model for ``spec`` (base or base + adapter), created once."""
        key = str(spec)
        if key not in models:
            try:
                backend = create(spec, self.options)
            except UsageError as exc:  # say which config and model it came from
                if exc.path is not None:
                    raise
                raise UsageError(f"model {spec}: {exc.message}",
                                 self.config.path, hint=exc.hint) from None
            models[key] = CachedModel(backend, self.store,
                                      max_retries=self.config.spec.max_retries,
                                      seed=self.config.spec.seed, read_cache=not self.fresh)
        return models[key]

    def _run_group(self, run_id: str, model: CachedModel, plan: PromptPlan,
                   units: list[_Unit], pool: ThreadPoolExecutor, counts: dict[str, int],
                   total: int, finished: int, stored: int = 0) -> int:
        pending: dict[Future[tuple[Output, Usage]], _Unit] = {}
        queue = iter(units)
        label = f"{plan.task.name}/{plan.variant.name}"
        warn_echo_volume(model, plan, len(units), label)
        steps = StepTracker(self.progress, plan.task.name, plan.variant.name,
                            str(units[0].model), (u.split for u in units))
        limit = 2 * min(self.config.spec.concurrency,
                        model.backend.capabilities.max_concurrency)
        failed: list[str] = []
        try:
            while True:
                for unit in queue:
                    pending[pool.submit(predict, model, plan, unit.example, unit.sample)] = unit
                    steps.submitted(unit.split)
                    if len(pending) >= limit:
                        break
                if not pending:
                    return finished
                ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in ready:
                    unit = pending.pop(fut)
                    rec, own_error = self._outcome(run_id, unit, fut, label)
                    counts["errors"] += rec.error is not None
                    stored += rec.error is None
                    if own_error and rec.error is not None:
                        failed.append(rec.error)
                    self.store.put_record(rec)
                    counts["records"] += 1
                    finished += 1
                    steps.completed(unit.split, rec.error is not None)
                    self.progress.example_done(finished, total, label)
                    _stop_if_all_failed(label, failed, stored)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise

    @staticmethod
    def _outcome(run_id: str, unit: _Unit, fut: Future[tuple[Output, Usage]], label: str
                 ) -> tuple[Record, bool]:
        """The example's record (scored, or its error) and whether the error is its own.

        A transient failure after its retries is the server's, not the example's.
        """
        try:
            output, usage = fut.result()
            return _record(run_id, unit, output, usage, None), False
        except TransientBackendError as exc:
            log.warning("%s %s: %s", label, unit.example.id, exc)
            return _record(run_id, unit, None, None, f"transient: {exc}"), False
        except ExampleError as exc:
            error = example_error(unit, exc)
            log.warning("%s: %s", label, error)
            return _record(run_id, unit, None, None, error), True


def _stop_if_all_failed(label: str, failed: list[str], stored: int) -> None:
    """Stop the run when a group's first examples all failed on their own and none succeeded.

    Raises:
        UsageError: :data:`STOP_AFTER_FAILURES` failures and no success in the group.
    """
    if stored == 0 and len(failed) == STOP_AFTER_FAILURES:
        raise UsageError(f"{label}: the first {len(failed)} examples all failed, so the cause "
                         f"is likely the configuration; the last: {failed[-1]}",
                         hint="fix it and run again (the failures are kept and retried)")
