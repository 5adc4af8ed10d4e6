"""From paired comparisons to a decision: candidate, economics and verdict per task.

Pure over a task's typed results and the run's stored config: picks the
fine-tuned candidate (the best ``lora`` variant on dev, or the one the
config names), applies Holm's correction across the run's tasks, prices
the candidate against the baseline with measured tokens and error rates,
and states the verdict with the numbers it rests on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.analysis.choice import best_variant
from harness.analysis.economics import (
    Economics,
    EconomicsInputs,
    VariantMeasurements,
    break_even,
)
from harness.analysis.intervals import holm_levels
from harness.analysis.model import (
    ComparisonResult,
    DecisionSettings,
    EconomicsResult,
    RunVerdict,
    TaskVerdict,
    VariantResult,
)
from harness.analysis.stats import Comparison, holm
from harness.analysis.verdict import Verdict, decide, gate_statement, headline, overall

DEFAULT_DECISION = {"candidate": "auto", "min_gain": 0.02, "max_payback_months": 12.0,
                    "min_examples": 10}


def economics_inputs(spec: Mapping[str, Any], n_labelled: int,
                     training: Mapping[str, Any] | None) -> EconomicsInputs:
    """Build the break-even inputs from the config, filling measured training numbers.

    ``training_hours`` and ``tokens_trained`` default to what the adapter's
    ``training.json`` measured (wall time, tokens trained).

    Raises:
        ValueError: A price is missing, zero or negative (the message names it).
    """
    fields = {k: v for k, v in spec.items() if v is not None}
    fields.setdefault("n_labelled", n_labelled)
    if training:
        seconds, tokens = measured_training(training)
        if "gpu_price_per_hour" in fields and seconds is not None:
            fields.setdefault("training_hours", seconds / 3600)
        if "managed_price_per_mtok_trained" in fields and tokens is not None:
            fields.setdefault("tokens_trained", tokens)
    return EconomicsInputs(**fields)


def measured_training(training: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """Wall seconds and tokens trained from a ``training.json`` record."""
    metrics = training.get("metrics") or {}
    seconds = training.get("wall_s", metrics.get("wall_s"))
    if seconds is None and metrics.get("epoch_seconds"):
        seconds = sum(metrics["epoch_seconds"])
    tokens = training.get("tokens_trained", metrics.get("tokens_trained"))
    return (None if seconds is None else float(seconds),
            None if tokens is None else float(tokens))


def _comparison(c: ComparisonResult) -> Comparison:
    nan = float("nan")

    def f(x: float | None) -> float:
        return nan if x is None else float(x)

    return Comparison(f(c.delta), f(c.ci_low), f(c.ci_high), f(c.p_value), c.test, c.n,
                      f(c.mde), c.n_needed, c.note, c.confidence, c.interval)


def decision_settings(spec: Mapping[str, Any]) -> DecisionSettings:
    """The run's ``decision`` section over the defaults (:class:`DecisionSettings`)."""
    return DecisionSettings(**{**DEFAULT_DECISION, **(spec.get("decision") or {})})


def candidate_of(variants: Sequence[VariantResult], decision: DecisionSettings) -> str | None:
    """The fine-tuned candidate a task's verdict is about: the named one, or the best lora."""
    cand = decision.candidate
    return best_variant(variants, "lora") if cand == "auto" else cand


def holm_families(tasks: Sequence[tuple[Sequence[VariantResult], Sequence[ComparisonResult]]],
                  decision: DecisionSettings, confidence: float
                  ) -> list[list[tuple[tuple[int, int], float, float]]]:
    """Holm's correction within each family of a run's comparisons.

    Two families: the decision comparisons (each task's candidate against its
    baseline, one per task, so a one-task run is one test, unadjusted) and
    all the other comparisons (other prompts, RAG). ``tasks`` holds each
    task's variants and comparisons.

    Returns:
        Per family, each comparison's (task index, comparison index), its
        Holm-adjusted p-value (Holm 1979) and the level at which Holm's
        step-down tests it (:func:`~harness.analysis.intervals.holm_levels`);
        recomputed at that level (``build_results`` does), its interval
        excludes 0 exactly when ``p_holm`` is below ``1 - confidence``.
    """
    decisive: list[tuple[tuple[int, int], ComparisonResult]] = []
    other: list[tuple[tuple[int, int], ComparisonResult]] = []
    for t, (variants, comparisons) in enumerate(tasks):
        cand = candidate_of(variants, decision)
        for k, c in enumerate(comparisons):
            (decisive if c.candidate == cand else other).append(((t, k), c))
    out = []
    for family in (decisive, other):
        ps = [float("nan") if c.p_value is None else float(c.p_value) for _, c in family]
        out.append([(where, p, level) for (where, _), p, level
                    in zip(family, holm(ps), holm_levels(ps, confidence), strict=True)])
    return out


def undefined_note(variants: Sequence[VariantResult], comparisons: Sequence[ComparisonResult],
                   baseline: str | None, metric: str, candidate: str) -> str | None:
    """Why no verdict: the metric is undefined on every paired test example (else None).

    A metric that no example defines is not "too little data": asking for
    more examples of the same kind would not help.
    """
    comp = next((c for c in comparisons if c.candidate == candidate), None)
    if comp is None or comp.n > 0:
        return None
    for v in variants:
        why = None if v.unscored is None else v.unscored.reason
        if v.name in (candidate, baseline) and why and not v.n:
            return (f"metric {metric} is undefined on every test example of "
                    f"{v.name} ({why}): nothing to decide")
    return None


def _economics(variants: Sequence[VariantResult], baseline: str, candidate: str,
               spec: Mapping[str, Any] | None, n_labelled: int,
               training: Mapping[str, Any] | None) -> Economics | None:
    if spec is None:
        return None
    by_name = {v.name: v for v in variants}

    def measured(name: str) -> VariantMeasurements:
        v = by_name[name]
        score = v.score
        return VariantMeasurements(float(v.prompt_tokens_mean or 0.0),
                                   float(v.completion_tokens_mean or 0.0),
                                   None if score is None or math.isnan(score) else 1 - score)

    inputs = economics_inputs(spec, n_labelled, training)
    return break_even(measured(baseline), measured(candidate), inputs)


def _econ_result(e: Economics) -> EconomicsResult:
    return EconomicsResult.model_validate({k: getattr(e, k) for k in (
        "monthly_saving_usd", "token_saving_usd", "error_saving_usd", "one_off_cost_usd",
        "labelling_cost_usd", "training_cost_usd", "maintenance_per_month_usd",
        "net_monthly_saving_usd", "payback_months", "baseline_monthly_cost_usd",
        "candidate_monthly_cost_usd", "horizon_months", "training_basis")} | {
        "tco_12m_usd": {"baseline": e.tco_baseline_usd, "candidate": e.tco_candidate_usd},
        "never_pays_back": math.isinf(e.payback_months)})


@dataclass(frozen=True)
class TaskDecision:
    """What a task's decision adds to its :class:`~harness.analysis.model.TaskResult`.

    ``fields`` holds those of ``candidate``, ``verdict``, ``decision_note``,
    ``metric_undefined``, ``training``, ``economics`` and ``economics_note``
    that the task has; ``verdict`` the verdict the run's overall one combines.
    """

    fields: dict[str, Any]
    verdict: Verdict | None = None


def decide_task(task: str, variants: Sequence[VariantResult],
                comparisons: Sequence[ComparisonResult], baseline: str | None, metric: str,
                config: Mapping[str, Any],
                trainings: Mapping[tuple[str, str], Mapping[str, Any]]) -> TaskDecision:
    """One task's candidate, economics and verdict.

    The comparisons must already carry their Holm-adjusted p-values and
    their intervals at the matching level (:func:`holm_families`, as
    ``build_results`` applies it). ``trainings`` maps (task, variant) to an
    adapter's ``training.json``.
    """
    spec = config["spec"]
    decision = decision_settings(spec)
    n_labelled = next((int(t.get("n_train", 0)) for t in config["tasks"]
                       if t["name"] == task), 0)
    cand = candidate_of(variants, decision)
    if cand is None or cand not in {v.name for v in variants} or cand == baseline:
        return TaskDecision({"candidate": None, "verdict": None, "decision_note": (
            "no fine-tuned (lora) variant in this run: nothing to decide" if cand is None
            else f"candidate {cand!r} is the baseline chosen on dev" if cand == baseline
            else f"candidate {cand!r} has no results to compare")})
    why = undefined_note(variants, comparisons, baseline, metric, cand)
    if why is not None:
        return TaskDecision({"candidate": None, "verdict": None, "decision_note": why,
                             "metric_undefined": why})
    assert baseline is not None  # a candidate other than the baseline has a baseline
    out: dict[str, Any] = {"candidate": cand}
    by_cand = {c.candidate: c for c in comparisons}
    rag = best_variant(variants, "rag")
    training = trainings.get((task, cand)) or trainings.get((task, cand.split("@")[0]))
    try:
        econ = _economics(variants, baseline, cand, spec.get("economics"), n_labelled,
                          training)
    except ValueError as exc:  # a measured input is missing (every output failed)
        econ = None
        out["economics_note"] = f"economics not computed: {exc}"
    out["training"] = training
    out["economics"] = _econ_result(econ) if econ else None
    v = decide(_comparison(by_cand[cand]), econ, decision.min_gain,
               decision.max_payback_months,
               _comparison(by_cand[rag]) if rag and rag in by_cand else None,
               decision.min_examples)
    out["verdict"] = TaskVerdict(label=v.label, reason=v.reason)
    return TaskDecision(out, v)


def run_verdict(verdicts: Mapping[str, Verdict]) -> RunVerdict | None:
    """The run's verdict from its tasks' (task name -> verdict); None without any."""
    if not verdicts:
        return None
    o = overall(verdicts)
    return RunVerdict(label=o.label, reason=o.reason, headline=headline(verdicts),
                      gate=gate_statement(verdicts))
