"""The one road of a run: ``plan``, then ``execute``, ``analyse`` and ``render``.

Every command that runs a config goes through these stages: ``run``, ``gate``
and ``compare-base`` call :func:`run` (all four); ``estimate`` calls
:func:`plan` and :func:`estimate` and stops there, so its counts are the
run's; ``export-lmeval --run`` replaces :func:`execute` with lm-eval and
analyses the imported run like any other.

- :func:`plan`: the units (tasks x variants x models x splits x examples x
  samples), the adapters to train first with their estimated training time,
  the prompt search's worst case and the judge calls
  (:class:`~harness.runplan.RunPlan`); no model is called.
- :func:`estimate`: the plan's requests, tokens and cache hits, counted with
  each backend's tokenizer (:mod:`harness.estimate`); still no model call.
- :func:`execute`: the runner executes the plan's units into the store.
- :func:`analyse`: the run's results, built from the store alone.
- :func:`render`: results.json, report.md and index.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.analysis.model import RunResults
from harness.analysis.results import build_results
from harness.backends.base import BackendOptions
from harness.config import RunConfig
from harness.estimate import EstimateRow, count_requests
from harness.report import write_report
from harness.runner import Progress, Runner, RunResult
from harness.runplan import RunPlan, plan_run
from harness.store import Store

__all__ = ["Estimate", "Outcome", "analyse", "estimate", "execute", "plan", "render", "run"]


@dataclass(frozen=True)
class Estimate:
    """What a run will do and send: its plan and the plan's requests, counted."""

    plan: RunPlan
    rows: tuple[EstimateRow, ...]

    @property
    def model_calls(self) -> int:
        """Requests not in the store (nor repeating an earlier one of the run)."""
        return sum(r.requests - r.cached for r in self.rows)

    @property
    def cached(self) -> int:
        """Requests the store (or the run itself) already answers."""
        return sum(r.cached for r in self.rows)


@dataclass(frozen=True)
class Outcome:
    """A run executed, analysed and rendered: its counts, its results and its report directory."""

    result: RunResult
    report_dir: Path
    results: RunResults


def plan(cfg: RunConfig, store: Store) -> RunPlan:
    """Stage 1: everything the run will do, before it does any of it; calls no model.

    Raises:
        UsageError: A given adapter is missing, belongs to another base, or
            the backend cannot take it.
    """
    return plan_run(cfg, store.root)


def estimate(run_plan: RunPlan, store: Store) -> Estimate:
    """The plan without execution: its requests, tokens and cache hits; calls no model.

    Raises:
        UsageError: A backend cannot be created, or a given adapter is missing.
    """
    return Estimate(run_plan, tuple(count_requests(run_plan, store)))


def execute(run_plan: RunPlan, store: Store, progress: Progress | None = None,
            fresh: bool = False) -> RunResult:
    """Stage 2: run (or resume) the plan's units into the store.

    Re-raises KeyboardInterrupt (finished examples are kept).

    Raises:
        UsageError: A backend cannot be created, or a group's first examples all failed.
    """
    cfg = run_plan.config
    runner = Runner(cfg, store, BackendOptions(seed=cfg.spec.seed), progress=progress,
                    fresh=fresh, plan=run_plan)
    return runner.run()


def analyse(store: Store, run_id: str) -> RunResults:
    """Stage 3: the run's results, from the store alone (no model call).

    Raises:
        UsageError: Unknown run.
    """
    run = store.get_run(run_id)
    return build_results(run, store.records(run.run_id), store.trainings(run.run_id),
                         store.searches(run.run_id))


def render(store: Store, run_id: str, reports: str | Path,
           results: RunResults | None = None) -> Path:
    """Stage 4: results.json, report.md, index.html and the plots; the report directory.

    ``results`` is :func:`analyse`'s (analysed again from the store when not given).

    Raises:
        UsageError: Unknown run, or the report directory is not writable.
    """
    return write_report(store, run_id, reports, results)


def run(cfg: RunConfig, store: Store, reports: str | Path, progress: Progress | None = None,
        fresh: bool = False) -> Outcome:
    """Every stage: plan, execute, then analyse and render into ``reports``.

    Raises:
        UsageError: As :func:`plan`, :func:`execute` and :func:`render`.
    """
    result = execute(plan(cfg, store), store, progress, fresh)
    results = analyse(store, result.run_id)
    return Outcome(result, render(store, result.run_id, reports, results), results)
