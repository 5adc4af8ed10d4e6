"""Typed results for unit tests: :mod:`harness.analysis.model` objects from partial dicts.

Report, gate and compare-base tests state only the fields a case is about
(``{"name": "ft", "kind": "lora", "dev_score": 0.7}``); these builders fill
the rest with neutral values (no score, n = 0, no verdict) and validate the
whole through the same models results.json is read with, so a test cannot
hand the code a shape a run would never produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.analysis.model import (
    SCHEMA,
    ComparisonResult,
    EconomicsResult,
    RunResults,
    TaskResult,
    TaskVerdict,
    VariantResult,
    VerdictLabel,
)

VARIANT: dict[str, Any] = {"name": "v", "kind": "prompt", "model": "fake:keyword",
                           "score": None, "ci_low": None, "ci_high": None, "n": 0,
                           "errors": 0, "prompt_tokens_mean": None,
                           "completion_tokens_mean": None, "scorers": {}}
COMPARISON: dict[str, Any] = {"baseline": "b", "candidate": "c", "delta": None, "ci_low": None,
                              "ci_high": None, "confidence": 0.95, "interval": "",
                              "p_value": None, "test": "paired_bootstrap", "n": 0,
                              "mde": None, "n_needed": None, "wins": 0, "losses": 0,
                              "ties": 0, "unpaired_dropped": 0, "note": ""}
ECONOMICS: dict[str, Any] = {k: 0.0 for k in (
    "monthly_saving_usd", "token_saving_usd", "error_saving_usd", "one_off_cost_usd",
    "labelling_cost_usd", "training_cost_usd", "maintenance_per_month_usd",
    "net_monthly_saving_usd", "payback_months", "baseline_monthly_cost_usd",
    "candidate_monthly_cost_usd")} | {"horizon_months": 12, "training_basis": "gpu_hours",
                                      "tco_12m_usd": {"baseline": 0.0, "candidate": 0.0},
                                      "never_pays_back": False}
TASK: dict[str, Any] = {"task": "toy", "family": "classification", "metric": "accuracy",
                        "scorer": "label_accuracy", "score_kind": "binary", "variants": [],
                        "comparisons": [], "baseline": None, "baseline_reason": "",
                        "min_gain": 0.02, "candidate": None, "verdict": None}
RUN: dict[str, Any] = {"schema": SCHEMA, "run_id": "run-1",
                       "created": "2026-01-01T00:00:00+00:00", "config_digest": "digest",
                       "config_path": "cfg.yaml", "status": "done", "model_calls": 0,
                       "seed": 0, "confidence": 0.95, "resamples": 200, "tasks": [],
                       "decision": {}, "verdict": None}
_TESTS = {"mcnemar": "mcnemar_exact", "permutation": "paired_permutation",
          "bootstrap": "paired_bootstrap"}


def variant(data: Mapping[str, Any] | None = None, **fields: Any) -> VariantResult:
    """A :class:`VariantResult` from the fields a test names."""
    return VariantResult.model_validate({**VARIANT, **(data or {}), **fields})


def comparison(data: Mapping[str, Any] | None = None, **fields: Any) -> ComparisonResult:
    """A :class:`ComparisonResult` from the fields a test names (``test`` may be short)."""
    merged = {**COMPARISON, **(data or {}), **fields}
    merged["test"] = _TESTS.get(merged["test"], merged["test"])
    return ComparisonResult.model_validate(merged)


def economics(data: Mapping[str, Any] | None = None, **fields: Any) -> EconomicsResult:
    """An :class:`EconomicsResult` from the fields a test names."""
    return EconomicsResult.model_validate({**ECONOMICS, **(data or {}), **fields})


def task(data: Mapping[str, Any] | None = None, **fields: Any) -> TaskResult:
    """A :class:`TaskResult`; its variants, comparisons and economics may be partial dicts."""
    merged = {**TASK, **(data or {}), **fields}
    merged["variants"] = [v if isinstance(v, VariantResult) else variant(v)
                          for v in merged["variants"]]
    merged["comparisons"] = [c if isinstance(c, ComparisonResult) else comparison(c)
                             for c in merged["comparisons"]]
    if isinstance(merged.get("economics"), Mapping):
        merged["economics"] = economics(merged["economics"])
    return TaskResult.model_validate(merged)


def results(data: Mapping[str, Any] | None = None, **fields: Any) -> RunResults:
    """A :class:`RunResults`; its tasks may be partial dicts."""
    merged = {**RUN, **(data or {}), **fields}
    merged["tasks"] = [t if isinstance(t, TaskResult) else task(t) for t in merged["tasks"]]
    if isinstance(merged["verdict"], Mapping):  # no headline: the label is the headline
        merged["verdict"] = {"headline": "", "gate": "", **merged["verdict"]}
    return RunResults.model_validate(merged)


def contract(res: RunResults) -> dict[str, Any]:
    """``res`` as results.json's keys and values, NaN kept (as ``json.loads`` would not).

    For tests of the results.json contract (docs/results-json.md): the same
    dump :meth:`RunResults.to_json` writes, before NaN becomes null.
    """
    out: dict[str, Any] = _lists(res.model_dump(by_alias=True, exclude_unset=True))
    return out


def _lists(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_lists(v) for v in obj]
    return obj


def results_json(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`~harness.analysis.results.build_results` as results.json's contract (NaN kept)."""
    from harness.analysis.results import build_results

    return contract(build_results(*args, **kwargs))


def label_of(verdict: Mapping[str, Any]) -> VerdictLabel:
    """A results.json verdict's typed label (read through the model, as the gate reads it)."""
    return TaskVerdict.model_validate(
        {k: v for k, v in verdict.items() if k in ("label", "examples_needed", "reason")}).label
