from __future__ import annotations

import math
from typing import Any

import numpy as np
import pydantic
import pytest

from harness.analysis.economics import (
    EconomicsInputs,
    EconomicsSpec,
    VariantMeasurements,
    break_even,
)


def _inputs(**changes: Any) -> EconomicsInputs:
    """DESIGN.md's worked example: $1/M input, 10M calls, $500 labels, $200 training."""
    base: dict[str, Any] = dict(
        price_in_per_mtok=1.0, price_out_per_mtok=4.0, calls_per_month=10_000_000,
        labelling_cost_per_example=1.0, n_labelled=500, gpu_price_per_hour=2.0,
        training_hours=100.0)
    base.update(changes)
    return EconomicsInputs(**base)


BASELINE = VariantMeasurements(prompt_tokens_mean=60.0, completion_tokens_mean=3.0,
                               error_rate=0.10)
CANDIDATE = VariantMeasurements(prompt_tokens_mean=45.0, completion_tokens_mean=3.0,
                                error_rate=0.08)


def test_design_worked_example() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs())
    assert econ.token_saving_usd == pytest.approx(150.0)
    assert econ.monthly_saving_usd == pytest.approx(150.0)
    assert econ.labelling_cost_usd == 500.0
    assert econ.training_cost_usd == 200.0
    assert econ.one_off_cost_usd == 700.0
    assert econ.maintenance_per_month_usd == 0.0
    assert econ.payback_months == pytest.approx(700 / 150)
    assert round(econ.payback_months, 2) == 4.67
    assert econ.training_basis == "gpu_hours"


def test_tco_over_horizon() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs())
    # Baseline: (60 x $1 + 3 x $4) per M tokens x 10M calls = $720 a month.
    assert econ.baseline_monthly_cost_usd == pytest.approx(720.0)
    assert econ.candidate_monthly_cost_usd == pytest.approx(570.0)
    assert econ.horizon_months == 12
    assert econ.tco_baseline_usd == pytest.approx(720.0 * 12)
    assert econ.tco_candidate_usd == pytest.approx(700.0 + 570.0 * 12)


def test_managed_training_price() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs(
        gpu_price_per_hour=None, training_hours=None, managed_price_per_mtok_trained=25.0,
        tokens_trained=4_000_000))
    assert econ.training_cost_usd == pytest.approx(100.0)
    assert econ.payback_months == pytest.approx(600 / 150)
    assert econ.training_basis == "managed_tokens"


def test_errors_avoided_add_to_the_saving() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs(cost_per_error=0.001))
    # 0.02 fewer errors x 10M calls x $0.001 = $200 a month.
    assert econ.error_saving_usd == pytest.approx(200.0)
    assert econ.monthly_saving_usd == pytest.approx(350.0)
    assert econ.payback_months == pytest.approx(2.0)
    no_rate = VariantMeasurements(45.0, 3.0)
    with pytest.raises(ValueError, match="error_rate"):
        break_even(BASELINE, no_rate, _inputs(cost_per_error=0.001))


def test_retraining_is_amortised_maintenance() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs(retrain_every_months=4, reeval_cost=100.0))
    assert econ.maintenance_per_month_usd == pytest.approx(75.0)  # ($200 + $100) / 4
    assert econ.net_monthly_saving_usd == pytest.approx(75.0)
    assert econ.payback_months == pytest.approx(700 / 75)
    assert econ.tco_candidate_usd == pytest.approx(700 + (570 + 75) * 12)


def test_no_saving_never_pays_back() -> None:
    same = break_even(BASELINE, BASELINE, _inputs())
    assert same.monthly_saving_usd == 0.0 and math.isinf(same.payback_months)
    eaten = break_even(BASELINE, CANDIDATE, _inputs(retrain_every_months=1, reeval_cost=0.0))
    assert eaten.net_monthly_saving_usd < 0 and math.isinf(eaten.payback_months)
    pricier = break_even(BASELINE, CANDIDATE, _inputs(candidate_price_in_per_mtok=2.0))
    # Candidate: (45 x $2 + 3 x $4) x 10 = $1,020 > $720.
    assert pricier.monthly_saving_usd == pytest.approx(-300.0)
    assert math.isinf(pricier.payback_months)


def test_cumulative_costs_cross_at_payback() -> None:
    econ = break_even(BASELINE, CANDIDATE, _inputs())
    base, cand = econ.cumulative_costs(12)
    assert base.shape == cand.shape == (13,)
    assert base[0] == 0.0 and cand[0] == 700.0
    ahead = np.flatnonzero(cand <= base)
    assert ahead[0] == math.ceil(econ.payback_months) == 5
    assert base[12] == pytest.approx(econ.tco_baseline_usd)
    assert cand[12] == pytest.approx(econ.tco_candidate_usd)
    with pytest.raises(ValueError, match="months"):
        econ.cumulative_costs(-1)


@pytest.mark.parametrize(("changes", "field"), [
    ({"price_in_per_mtok": 0.0}, "price_in_per_mtok"),
    ({"price_out_per_mtok": -1.0}, "price_out_per_mtok"),
    ({"price_in_per_mtok": None}, "price_in_per_mtok"),
    ({"price_out_per_mtok": float("nan")}, "price_out_per_mtok"),
    ({"gpu_price_per_hour": 0.0}, "gpu_price_per_hour"),
    ({"training_hours": None}, "training_hours"),
    ({"gpu_price_per_hour": None, "training_hours": None}, "training cost is missing"),
    ({"tokens_trained": 10.0}, "not both"),
    ({"calls_per_month": -5}, "calls_per_month"),
    ({"n_labelled": 2.5}, "n_labelled"),
    ({"horizon_months": 0}, "horizon_months"),
    ({"retrain_every_months": 0}, "retrain_every_months"),
    ({"candidate_price_in_per_mtok": -2.0}, "candidate_price_in_per_mtok"),
    ({"cost_per_error": -0.1}, "cost_per_error"),
    ({"labelling_cost_per_example": "1.0"}, "labelling_cost_per_example"),
])
def test_invalid_inputs_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _inputs(**changes)


def test_invalid_measurements_name_the_field() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        VariantMeasurements(10.0, 1.0, error_rate=1.5)
    with pytest.raises(ValueError, match="prompt_tokens_mean"):
        VariantMeasurements(-1.0, 1.0)


def test_inputs_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        _inputs().calls_per_month = 1  # type: ignore[misc]


def test_the_config_section_and_the_inputs_are_one_definition() -> None:
    # One list of fields (issue 15): the inputs are the config section, checked, with
    # n_labelled required; the config's defaults (labelling 0, horizon 12) apply to both.
    assert set(EconomicsInputs.model_fields) == set(EconomicsSpec.model_fields)
    spec = EconomicsSpec(price_in_per_mtok=1.0, price_out_per_mtok=4.0, calls_per_month=10.0,
                         gpu_price_per_hour=2.0, training_hours=1.0)
    inputs = EconomicsInputs(**{**spec.model_dump(exclude_none=True), "n_labelled": 5})
    assert (inputs.labelling_cost_per_example, inputs.horizon_months) == (0.0, 12)
    with pytest.raises(ValueError, match="n_labelled is missing"):
        EconomicsInputs(**spec.model_dump(exclude_none=True))
