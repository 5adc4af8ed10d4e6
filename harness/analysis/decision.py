"""From paired comparisons to a decision: candidate, economics and verdict per task.

Pure over the results dictionary and the run's stored config: picks the
fine-tuned candidate (the best ``lora`` variant on dev, or the one the
config names), applies Holm's correction across the run's tasks, prices
the candidate against the baseline with measured tokens and error rates,
and states the verdict with the numbers it rests on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.choice import best_variant
from harness.analysis.economics import (
    Economics,
    EconomicsInputs,
    VariantMeasurements,
    break_even,
)
from harness.analysis.intervals import holm_levels
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


def _comparison(c: Mapping[str, Any], confidence: float) -> Comparison:
    nan = float("nan")

    def f(key: str) -> float:
        v = c.get(key)
        return nan if v is None else float(v)

    return Comparison(f("delta"), f("ci_low"), f("ci_high"), f("p_value"), c["test"],
                      int(c["n"]), f("mde"), c.get("n_needed"), c.get("note", ""),
                      float(c.get("confidence") or confidence), c.get("interval", ""))


def decision_settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The run's ``decision`` section over :data:`DEFAULT_DECISION`."""
    return {**DEFAULT_DECISION, **(spec.get("decision") or {})}


def candidate_of(task: Mapping[str, Any], decision: Mapping[str, Any]) -> str | None:
    """The fine-tuned candidate a task's verdict is about: the named one, or the best lora."""
    cand = decision["candidate"]
    return best_variant(task["variants"], "lora") if cand == "auto" else str(cand)


def adjust_for_multiplicity(tasks: Sequence[dict[str, Any]], decision: Mapping[str, Any],
                            confidence: float) -> list[tuple[dict[str, Any], float]]:
    """Holm's correction within each family of a run's comparisons.

    Two families: the decision comparisons (each task's candidate against its
    baseline, one per task, so a one-task run is one test, unadjusted) and
    all the other comparisons (other prompts, RAG). Sets ``p_holm`` (Holm
    1979) on every comparison, in place, and returns each comparison with
    the level at which Holm's step-down tests it
    (:func:`~harness.analysis.intervals.holm_levels`); recomputed at that
    level (``build_results`` does), its interval excludes 0 exactly when
    ``p_holm`` is below ``1 - confidence``.
    """
    decisive: list[dict[str, Any]] = []
    other: list[dict[str, Any]] = []
    for task in tasks:
        cand = candidate_of(task, decision)
        for c in task["comparisons"]:
            (decisive if c["candidate"] == cand else other).append(c)
    out = []
    for family in (decisive, other):
        ps = [float("nan") if c["p_value"] is None else float(c["p_value"]) for c in family]
        for c, p, level in zip(family, holm(ps), holm_levels(ps, confidence), strict=True):
            c["p_holm"] = p
            out.append((c, level))
    return out


def undefined_note(task: Mapping[str, Any], candidate: str) -> str | None:
    """Why no verdict: the metric is undefined on every paired test example (else None).

    A metric that no example defines is not "too little data": asking for
    more examples of the same kind would not help.
    """
    comp = next((c for c in task["comparisons"] if c["candidate"] == candidate), None)
    if comp is None or comp["n"] > 0:
        return None
    for v in task["variants"]:
        why = (v.get("unscored") or {}).get("reason")
        if v["name"] in (candidate, task.get("baseline")) and why and not v["n"]:
            return (f"metric {task['metric']} is undefined on every test example of "
                    f"{v['name']} ({why}): nothing to decide")
    return None


def _economics(task: Mapping[str, Any], candidate: str, spec: Mapping[str, Any] | None,
               n_labelled: int, training: Mapping[str, Any] | None) -> Economics | None:
    if spec is None:
        return None
    by_name = {v["name"]: v for v in task["variants"]}

    def measured(name: str) -> VariantMeasurements:
        v = by_name[name]
        score = v["score"]
        return VariantMeasurements(float(v["prompt_tokens_mean"] or 0.0),
                                   float(v["completion_tokens_mean"] or 0.0),
                                   None if score is None or math.isnan(score) else 1 - score)

    inputs = economics_inputs(spec, n_labelled, training)
    return break_even(measured(task["baseline"]), measured(candidate), inputs)


def _econ_json(e: Economics) -> dict[str, Any]:
    return {k: getattr(e, k) for k in (
        "monthly_saving_usd", "token_saving_usd", "error_saving_usd", "one_off_cost_usd",
        "labelling_cost_usd", "training_cost_usd", "maintenance_per_month_usd",
        "net_monthly_saving_usd", "payback_months", "baseline_monthly_cost_usd",
        "candidate_monthly_cost_usd", "horizon_months", "training_basis")} | {
        "tco_12m_usd": {"baseline": e.tco_baseline_usd, "candidate": e.tco_candidate_usd},
        "never_pays_back": math.isinf(e.payback_months)}


def apply_decisions(results: dict[str, Any], config: Mapping[str, Any],
                    trainings: Mapping[tuple[str, str], Mapping[str, Any]]) -> None:
    """Add candidate, economics and verdicts in place.

    The comparisons must already carry their Holm-adjusted p-values and
    their intervals at the matching level (:func:`adjust_for_multiplicity`,
    as ``build_results`` applies it). ``trainings`` maps (task, variant) to
    an adapter's ``training.json``.
    """
    spec = config["spec"]
    decision = decision_settings(spec)
    econ_spec = spec.get("economics")
    conf = float(results.get("confidence") or 0.95)
    n_train = {t["name"]: int(t.get("n_train", 0)) for t in config["tasks"]}
    verdicts: dict[str, Verdict] = {}
    for task in results["tasks"]:
        task["min_gain"] = decision["min_gain"]
        cand = candidate_of(task, decision)
        names = {v["name"] for v in task["variants"]}
        if cand is None or cand not in names or cand == task.get("baseline"):
            task["candidate"], task["verdict"] = None, None
            task["decision_note"] = (
                "no fine-tuned (lora) variant in this run: nothing to decide" if cand is None
                else f"candidate {cand!r} is the baseline chosen on dev" if cand == task.get(
                    "baseline") else f"candidate {cand!r} has no results to compare")
            continue
        why = undefined_note(task, cand)
        if why is not None:
            task["candidate"], task["verdict"], task["decision_note"] = None, None, why
            task["metric_undefined"] = why
            continue
        task["candidate"] = cand
        by_cand = {c["candidate"]: c for c in task["comparisons"]}
        rag = best_variant(task["variants"], "rag")
        training = (trainings.get((task["task"], cand))
                    or trainings.get((task["task"], cand.split("@")[0])))
        try:
            econ = _economics(task, cand, econ_spec, n_train.get(task["task"], 0), training)
        except ValueError as exc:  # a measured input is missing (every output failed)
            econ = None
            task["economics_note"] = f"economics not computed: {exc}"
        task["training"] = training
        task["economics"] = _econ_json(econ) if econ else None
        v = decide(_comparison(by_cand[cand], conf), econ, decision["min_gain"],
                   decision["max_payback_months"],
                   _comparison(by_cand[rag], conf) if rag and rag in by_cand else None,
                   decision["min_examples"])
        task["verdict"] = {"label": v.label, "reason": v.reason}
        verdicts[task["task"]] = v
    if verdicts:
        o = overall(verdicts)
        results["verdict"] = {"label": o.label, "reason": o.reason,
                              "headline": headline(verdicts), "gate": gate_statement(verdicts)}
    else:
        results["verdict"] = None
    results["decision"] = decision
