"""The typed, immutable results of a run (``RunResults``); ``results.json`` is its serialisation.

Analysis (:func:`harness.analysis.results.build_results`) builds one
:class:`RunResults` from the store; the report, the gate, compare-base,
history and export read it by attribute. :meth:`RunResults.to_json` writes
it (NaN and infinity as ``null``; optional sections that a run does not
have are left out, as the contract in ``docs/results-json.md`` says) and
:meth:`RunResults.from_json` reads it back through the same model.

Family-specific summaries whose shape depends on the task family
(``confusion``, ``per_label``, ``parse``, ``fields``, ``judge``, ...) are
JSON objects (``dict``); everything a decision rests on is typed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

__all__ = [
    "SCHEMA",
    "ComparisonResult",
    "Diagnosis",
    "EconomicsResult",
    "Outcome",
    "RunResults",
    "RunVerdict",
    "SearchResult",
    "TaskResult",
    "TaskVerdict",
    "VariantResult",
    "VerdictLabel",
]

SCHEMA = 2
"""results.json's schema version: 2 adds ``examples_needed`` to each verdict."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Outcome(StrEnum):
    """The five verdicts (INCONCLUSIVE's count is :attr:`VerdictLabel.examples_needed`)."""

    JUSTIFIED = "FINE-TUNE JUSTIFIED"
    TOO_SMALL = "NOT JUSTIFIED: gain too small"
    NO_PAYBACK = "NOT JUSTIFIED: does not pay back"
    USE_RAG = "USE RAG: knowledge gap"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        """The gate's exit code: 0 pass, 1 fail, 3 inconclusive."""
        return {Outcome.JUSTIFIED: 0, Outcome.INCONCLUSIVE: 3}.get(self, 1)


class VerdictLabel(_Frozen):
    """A verdict label and its data: INCONCLUSIVE carries the test examples to add.

    ``str(label)`` is the text the report and results.json show, e.g.
    ``INCONCLUSIVE: need ~120 more examples``.
    """

    outcome: Outcome
    examples_needed: int | None = None

    def __str__(self) -> str:
        if self.outcome is Outcome.INCONCLUSIVE:
            more = "?" if self.examples_needed is None else str(self.examples_needed)
            return f"{self.outcome.value}: need ~{more} more examples"
        return self.outcome.value

    @property
    def exit_code(self) -> int:
        """The gate's exit code for this label (:attr:`Outcome.exit_code`)."""
        return self.outcome.exit_code


def _outcome_of(text: str) -> Outcome:
    """The outcome a label's text names (INCONCLUSIVE by its prefix; no number is read)."""
    for outcome in Outcome:
        if text == outcome.value:
            return outcome
    if text.startswith(Outcome.INCONCLUSIVE.value + ":"):
        return Outcome.INCONCLUSIVE
    raise ValueError(f"not a verdict label: {text!r}")


class TaskVerdict(_Frozen):
    """One task's verdict: ``label`` (text), ``examples_needed`` and the ``reason``.

    In results.json ``label`` is the label's text and ``examples_needed`` its
    count (null unless INCONCLUSIVE).
    """

    label: VerdictLabel
    reason: str

    @model_validator(mode="before")
    @classmethod
    def _from_json(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("label"), str):
            data = dict(data)
            data["label"] = VerdictLabel(outcome=_outcome_of(data["label"]),
                                         examples_needed=data.pop("examples_needed", None))
        return data

    @model_serializer(mode="wrap")
    def _to_json(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        data["label"] = str(self.label)
        data["examples_needed"] = self.label.examples_needed
        return data

    @property
    def outcome(self) -> Outcome:
        """The label's outcome."""
        return self.label.outcome


class RunVerdict(TaskVerdict):
    """The run's verdict, its one-line ``headline`` and the ``gate`` statement."""

    headline: str
    gate: str


class ComparisonResult(_Frozen):
    """A candidate against the baseline on the paired test examples (see docs/results-json.md)."""

    baseline: str
    candidate: str
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    interval: str
    p_value: float | None
    test: Literal["mcnemar_exact", "paired_permutation", "paired_bootstrap"]
    n: int
    mde: float | None
    n_needed: int | None
    wins: int
    losses: int
    ties: int
    unpaired_dropped: int
    note: str
    p_holm: float | None = None


class ScorerSummary(_Frozen):
    """One scorer's mean over examples with its interval, on one variant's test records."""

    mean: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    unscored: int
    higher_is_better: bool


class Unscored(_Frozen):
    """Samples the task's metric left undefined, and the first reason."""

    samples: int
    reason: str


class VariantResult(_Frozen):
    """One variant (on one model) of a task on test, and its dev numbers."""

    name: str
    kind: str
    model: str
    score: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    errors: int
    prompt_tokens_mean: float | None
    completion_tokens_mean: float | None
    scorers: dict[str, ScorerSummary]
    unscored: Unscored | None = None
    metrics: dict[str, float | None] = {}
    confusion: dict[str, Any] | None = None
    per_label: dict[str, Any] | None = None
    unparseable: int | None = None
    unparseable_rate: float | None = None
    parse: dict[str, int] | None = None
    fields: dict[str, Any] | None = None
    style_classifier: dict[str, Any] | None = None
    fluency_proxy: str | None = None
    judge: dict[str, Any] | None = None
    retrieval: dict[str, Any] | None = None
    dev_score: float | None = None
    dev_prompt_tokens_mean: float | None = None


class EconomicsResult(_Frozen):
    """The candidate's break-even against the baseline (see analysis/economics.py)."""

    monthly_saving_usd: float | None
    token_saving_usd: float | None
    error_saving_usd: float | None
    one_off_cost_usd: float | None
    labelling_cost_usd: float | None
    training_cost_usd: float | None
    maintenance_per_month_usd: float | None
    net_monthly_saving_usd: float | None
    payback_months: float | None
    """Months to pay back; infinite in memory and null in JSON when it never does."""
    baseline_monthly_cost_usd: float | None
    candidate_monthly_cost_usd: float | None
    horizon_months: int
    training_basis: Literal["gpu_hours", "managed_tokens"]
    tco_12m_usd: dict[str, float | None]
    never_pays_back: bool


class Evidence(_Frozen):
    """The numbers of one comparison a diagnosis quotes."""

    baseline: str
    candidate: str
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int


class Diagnosis(_Frozen):
    """Knowledge gap, behaviour gap or no clear gap, with the comparisons it rests on."""

    label: str
    reason: str
    evidence: dict[str, Evidence | None]


class SearchRow(_Frozen):
    """One prompt tried on dev by a prompt search (or a config variant)."""

    name: str
    search: bool
    base: str
    settings: dict[str, Any]
    dev_score: float | None
    dev_ci_low: float | None
    dev_ci_high: float | None
    n_dev: int
    round: int | None
    dev_tokens: int
    test_score: float | None


class SearchResult(_Frozen):
    """A task's prompt-search leaderboard (best first) and what the search spent."""

    rows: tuple[SearchRow, ...]
    winner: str | None
    winner_test_score: float | None
    candidates: int
    rounds: int
    budget: Any
    stopped: str | None
    spent: dict[str, int | float]


class PromptingShare(_Frozen):
    """How much of the fine-tune's gain over the floor the best prompt already gets."""

    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    note: str
    floor: str
    best_prompt: str
    fine_tune: str


class TaskResult(_Frozen):
    """One task: its variants, comparisons, baseline, candidate, economics and verdict."""

    task: str
    family: str
    metric: str
    scorer: str
    score_kind: str
    variants: tuple[VariantResult, ...]
    comparisons: tuple[ComparisonResult, ...]
    baseline: str | None
    baseline_reason: str
    note: str | None = None
    min_gain: float
    candidate: str | None
    verdict: TaskVerdict | None
    decision_note: str | None = None
    metric_undefined: str | None = None
    training: dict[str, Any] | None = None
    economics: EconomicsResult | None = None
    economics_note: str | None = None
    diagnosis: Diagnosis | None = None
    search: SearchResult | None = None
    selection_notes: tuple[str, ...] | None = None
    prompting_share: PromptingShare | None = None

    def variant(self, name: str | None) -> VariantResult | None:
        """The variant called ``name`` (None when there is none)."""
        return next((v for v in self.variants if v.name == name), None)

    def comparison(self, candidate: str | None) -> ComparisonResult | None:
        """The comparison of ``candidate`` with the baseline (None when there is none)."""
        return next((c for c in self.comparisons if c.candidate == candidate), None)


class DecisionSettings(_Frozen):
    """The run's ``decision`` section over the defaults (see harness.config.DecisionSpec)."""

    candidate: str = "auto"
    min_gain: float = 0.02
    max_payback_months: float = 12.0
    min_examples: int = 10


class RunResults(_Frozen):
    """Everything a run's report, gate, compare-base, history and export read.

    Built by :func:`harness.analysis.results.build_results` from the store;
    serialised as ``results.json`` (docs/results-json.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_version: int = Field(alias="schema")
    run_id: str
    created: str
    config_digest: str
    config_path: str
    status: str
    model_calls: int
    seed: int
    confidence: float
    resamples: int
    tasks: tuple[TaskResult, ...]
    decision: DecisionSettings
    verdict: RunVerdict | None

    @model_validator(mode="before")
    @classmethod
    def _known_schema(cls, data: Any) -> Any:
        """Refuse a results.json written by a newer tunegate (an unknown schema)."""
        if isinstance(data, dict):
            version = data.get("schema", data.get("schema_version"))
            if isinstance(version, int) and version > SCHEMA:
                raise ValueError(f"results.json schema {version} is newer than this "
                                 f"tunegate's ({SCHEMA}): upgrade tunegate to read it")
        return data

    def task(self, name: str) -> TaskResult | None:
        """The task called ``name`` (None when the run has none)."""
        return next((t for t in self.tasks if t.task == name), None)

    def to_json(self) -> str:
        """``results.json``: NaN and infinity as null, unset optional sections left out."""
        return to_json(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> RunResults:
        """Read ``results.json`` back.

        Raises:
            pydantic.ValidationError: The text is not a results.json of this schema.
        """
        return cls.model_validate_json(text)


def to_json(results: RunResults) -> str:
    """Serialise ``results`` as results.json text (two-space indent, a final newline)."""
    return results.model_dump_json(indent=2, exclude_unset=True, by_alias=True) + "\n"
