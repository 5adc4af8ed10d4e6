"""Break-even economics of a fine-tuned variant against the prompting baseline.

Pure arithmetic over *measured* numbers (tokens per call and error rates
from the run) and the user's prices. Money is in US dollars; token prices
are per million tokens. Invalid inputs raise ``ValueError`` naming the
field, which the caller turns into a user error.

Worked check (DESIGN.md): 15 prompt tokens saved per call x 10M calls a
month at $1 per million input tokens is $150 a month; against $500 of
labelling and $200 of training it pays back in 700 / 150 = 4.67 months.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

__all__ = ["Economics", "EconomicsInputs", "EconomicsSpec", "VariantMeasurements", "break_even"]

_MTOK = 1_000_000.0


def _check(name: str, value: object, *, positive: bool = False, optional: bool = False,
           integer: bool = False) -> None:
    """Raise ``ValueError`` naming ``name`` unless ``value`` is a valid amount."""
    if value is None:
        if optional:
            return
        raise ValueError(f"{name} is missing")
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or (integer and not isinstance(value, int))):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, "
                         f"got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")


def _check_inputs(d: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` naming the first invalid economics input in ``d``."""
    for name in ("price_in_per_mtok", "price_out_per_mtok"):
        _check(name, d.get(name), positive=True)
    for name in ("candidate_price_in_per_mtok", "candidate_price_out_per_mtok",
                 "retrain_every_months"):
        _check(name, d.get(name), positive=True, optional=True)
    for name in ("calls_per_month", "labelling_cost_per_example", "reeval_cost"):
        _check(name, d.get(name))
    _check("n_labelled", d.get("n_labelled"), integer=True)
    _check("horizon_months", d.get("horizon_months"), positive=True, integer=True)
    _check("cost_per_error", d.get("cost_per_error"), optional=True)
    _check_training(d)


def _check_training(d: Mapping[str, Any]) -> None:
    gpu = {k: d.get(k) for k in ("gpu_price_per_hour", "training_hours")}
    managed = {k: d.get(k) for k in ("managed_price_per_mtok_trained", "tokens_trained")}
    uses_gpu = any(v is not None for v in gpu.values())
    uses_managed = any(v is not None for v in managed.values())
    if uses_gpu and uses_managed:
        raise ValueError("give training cost either as gpu_price_per_hour and "
                         "training_hours or as managed_price_per_mtok_trained and "
                         "tokens_trained, not both")
    if not (uses_gpu or uses_managed):
        raise ValueError("training cost is missing: give gpu_price_per_hour and "
                         "training_hours, or managed_price_per_mtok_trained and "
                         "tokens_trained")
    price, amount = (gpu if uses_gpu else managed).items()
    _check(price[0], price[1], positive=True)
    _check(amount[0], amount[1])



@dataclass(frozen=True)
class VariantMeasurements:
    """What one variant costs per call, as measured on the test split.

    Attributes:
        prompt_tokens_mean: Mean prompt tokens per call (the backend's tokenizer).
        completion_tokens_mean: Mean completion tokens per call.
        error_rate: Share of calls whose output is wrong (1 - accuracy), when known.
    """

    prompt_tokens_mean: float
    completion_tokens_mean: float
    error_rate: float | None = None

    def __post_init__(self) -> None:
        _check("prompt_tokens_mean", self.prompt_tokens_mean)
        _check("completion_tokens_mean", self.completion_tokens_mean)
        _check("error_rate", self.error_rate, optional=True)
        if self.error_rate is not None and self.error_rate > 1:
            raise ValueError(f"error_rate must lie in [0, 1], got {self.error_rate!r}")


class EconomicsSpec(BaseModel):
    """Prices and volumes for the break-even model: a run config's ``economics`` section.

    Training is priced one of two ways, never both: ``gpu_price_per_hour`` x
    ``training_hours`` (measured, or estimated from calibration data), or
    ``managed_price_per_mtok_trained`` x ``tokens_trained`` (a managed
    fine-tuning service).

    Attributes:
        price_in_per_mtok: Input (prompt) price per million tokens.
        price_out_per_mtok: Output (completion) price per million tokens.
        calls_per_month: Production calls a month.
        labelling_cost_per_example: Cost of labelling one training example (default 0).
        n_labelled: Training examples to label (None: the task's train examples).
        gpu_price_per_hour: Price of one GPU-hour.
        training_hours: GPU-hours of one training run.
        managed_price_per_mtok_trained: Managed training price per million tokens.
        tokens_trained: Tokens processed by one training run (all epochs).
        retrain_every_months: Retraining interval (a new base model every few
            months); None means the adapter is trained once.
        reeval_cost: Cost of re-evaluating after each retraining.
        horizon_months: Months the total cost of ownership covers.
        cost_per_error: Business cost of one wrong output, when known.
        candidate_price_in_per_mtok: Input price of the fine-tuned model when it
            differs (managed fine-tuned models often cost more); None = same.
        candidate_price_out_per_mtok: Output price of the fine-tuned model; None = same.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    price_in_per_mtok: float
    price_out_per_mtok: float
    calls_per_month: float
    labelling_cost_per_example: float = 0.0
    n_labelled: int | None = None
    gpu_price_per_hour: float | None = None
    training_hours: float | None = None
    managed_price_per_mtok_trained: float | None = None
    tokens_trained: float | None = None
    retrain_every_months: float | None = None
    reeval_cost: float = 0.0
    horizon_months: int = 12
    cost_per_error: float | None = None
    candidate_price_in_per_mtok: float | None = None
    candidate_price_out_per_mtok: float | None = None


class EconomicsInputs(EconomicsSpec):
    """The inputs of :func:`break_even`: an :class:`EconomicsSpec` complete and checked.

    ``n_labelled`` is required here (the caller fills the task's train count)
    and training is priced one way exactly.

    Raises:
        ValueError: On construction, naming the first invalid field: a price
            missing, zero or negative; an amount negative, not finite or not a
            number; no training price, or both kinds.
    """

    n_labelled: int

    def __init__(self, **data: Any) -> None:
        _check_inputs({**_DEFAULTS, **data})  # on the raw values, before pydantic coerces
        super().__init__(**data)

    @property
    def training_basis(self) -> Literal["gpu_hours", "managed_tokens"]:
        """How one training run is priced."""
        return "gpu_hours" if self.gpu_price_per_hour is not None else "managed_tokens"

    def training_cost_usd(self) -> float:
        """Cost of one training run."""
        if self.gpu_price_per_hour is not None and self.training_hours is not None:
            return self.gpu_price_per_hour * self.training_hours
        if self.managed_price_per_mtok_trained is not None and self.tokens_trained is not None:
            return self.managed_price_per_mtok_trained * self.tokens_trained / _MTOK
        raise ValueError("training cost is missing")  # unreachable: construction checks it



_DEFAULTS = {name: f.default for name, f in EconomicsSpec.model_fields.items()
             if not f.is_required() and name != "n_labelled"}
"""The config's defaults, applied before the checks (``n_labelled`` has none here)."""

@dataclass(frozen=True)
class Economics:
    """Break-even of the candidate against the baseline.

    Attributes:
        token_saving_usd: Monthly saving on tokens (negative when the candidate
            uses more, or costs more per token).
        error_saving_usd: Monthly value of errors avoided (0 without ``cost_per_error``).
        monthly_saving_usd: ``token_saving_usd + error_saving_usd``.
        labelling_cost_usd: Labelling the training set, once.
        training_cost_usd: The first training run.
        one_off_cost_usd: ``labelling_cost_usd + training_cost_usd``.
        maintenance_per_month_usd: Retraining plus re-evaluation, amortised over
            the retraining interval (0 when never retrained).
        net_monthly_saving_usd: ``monthly_saving_usd - maintenance_per_month_usd``.
        payback_months: ``one_off_cost_usd / net_monthly_saving_usd``; infinite
            when the net saving is not positive.
        baseline_monthly_cost_usd: Running cost of the baseline (tokens, plus errors
            when priced).
        candidate_monthly_cost_usd: Running cost of the candidate, same basis,
            without maintenance.
        horizon_months: Months the two totals cover.
        tco_baseline_usd: Baseline running cost over the horizon.
        tco_candidate_usd: Candidate running cost, one-off cost and maintenance
            over the horizon.
        training_basis: ``gpu_hours`` or ``managed_tokens``.
    """

    token_saving_usd: float
    error_saving_usd: float
    monthly_saving_usd: float
    labelling_cost_usd: float
    training_cost_usd: float
    one_off_cost_usd: float
    maintenance_per_month_usd: float
    net_monthly_saving_usd: float
    payback_months: float
    baseline_monthly_cost_usd: float
    candidate_monthly_cost_usd: float
    horizon_months: int
    tco_baseline_usd: float
    tco_candidate_usd: float
    training_basis: Literal["gpu_hours", "managed_tokens"]

    def cumulative_costs(self, months: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Cumulative cost of each option at the end of months 0..``months``, for plotting.

        The curves cross at ``payback_months``; at ``horizon_months`` they equal
        the two totals of ownership.

        Returns:
            Baseline and candidate arrays of length ``months + 1``.

        Raises:
            ValueError: ``months`` is negative.
        """
        if months < 0:
            raise ValueError(f"months must not be negative, got {months}")
        m = np.arange(months + 1, dtype=float)
        baseline = self.baseline_monthly_cost_usd * m
        candidate = self.one_off_cost_usd + (
            self.candidate_monthly_cost_usd + self.maintenance_per_month_usd) * m
        return baseline, candidate


def _running_cost(v: VariantMeasurements, price_in: float, price_out: float,
                  inputs: EconomicsInputs) -> tuple[float, float]:
    """Monthly token cost and monthly error cost of one variant."""
    per_call = (v.prompt_tokens_mean * price_in + v.completion_tokens_mean * price_out) / _MTOK
    tokens = per_call * inputs.calls_per_month
    if inputs.cost_per_error is None:
        return tokens, 0.0
    if v.error_rate is None:
        raise ValueError("error_rate is missing: cost_per_error is given, so both variants "
                         "need a measured error rate")
    return tokens, v.error_rate * inputs.calls_per_month * inputs.cost_per_error


def break_even(baseline: VariantMeasurements, candidate: VariantMeasurements,
               inputs: EconomicsInputs) -> Economics:
    """Monthly saving, payback and total cost of ownership of ``candidate``.

    The saving is the baseline's running cost minus the candidate's: tokens
    (prompt and completion, each at its price) and, when ``cost_per_error``
    is given, errors avoided x ``cost_per_error`` x calls. Maintenance
    (retraining plus re-evaluation every ``retrain_every_months``) is
    amortised per month and taken off the saving before payback.

    Args:
        baseline: The best prompting variant's measurements.
        candidate: The fine-tuned variant's measurements.
        inputs: Prices and volumes.

    Raises:
        ValueError: ``cost_per_error`` is given but an error rate is missing.

    Example:
        >>> inputs = EconomicsInputs(price_in_per_mtok=1.0, price_out_per_mtok=4.0,
        ...     calls_per_month=10_000_000, labelling_cost_per_example=1.0,
        ...     n_labelled=500, gpu_price_per_hour=2.0, training_hours=100.0)
        >>> econ = break_even(VariantMeasurements(60, 3), VariantMeasurements(45, 3), inputs)
        >>> round(econ.monthly_saving_usd, 2), round(econ.payback_months, 2)
        (150.0, 4.67)
    """
    cand_in, cand_out = inputs.candidate_price_in_per_mtok, inputs.candidate_price_out_per_mtok
    cand_in = inputs.price_in_per_mtok if cand_in is None else cand_in
    cand_out = inputs.price_out_per_mtok if cand_out is None else cand_out
    base_tokens, base_errors = _running_cost(
        baseline, inputs.price_in_per_mtok, inputs.price_out_per_mtok, inputs)
    cand_tokens, cand_errors = _running_cost(candidate, cand_in, cand_out, inputs)
    saving = (base_tokens + base_errors) - (cand_tokens + cand_errors)
    labelling = inputs.labelling_cost_per_example * inputs.n_labelled
    training = inputs.training_cost_usd()
    one_off = labelling + training
    maintenance = 0.0
    if inputs.retrain_every_months is not None:
        maintenance = (training + inputs.reeval_cost) / inputs.retrain_every_months
    net = saving - maintenance
    payback = one_off / net if net > 0 else math.inf
    horizon = inputs.horizon_months
    base_running, cand_running = base_tokens + base_errors, cand_tokens + cand_errors
    return Economics(
        token_saving_usd=base_tokens - cand_tokens, error_saving_usd=base_errors - cand_errors,
        monthly_saving_usd=saving, labelling_cost_usd=labelling, training_cost_usd=training,
        one_off_cost_usd=one_off, maintenance_per_month_usd=maintenance,
        net_monthly_saving_usd=net, payback_months=payback,
        baseline_monthly_cost_usd=base_running, candidate_monthly_cost_usd=cand_running,
        horizon_months=horizon, tco_baseline_usd=base_running * horizon,
        tco_candidate_usd=one_off + (cand_running + maintenance) * horizon,
        training_basis=inputs.training_basis)
