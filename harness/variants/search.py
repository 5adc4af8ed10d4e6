"""Prompt search: expand a config's ``prompt_search`` axes into candidate prompts.

The baseline a fine-tune is judged against should be the best prompt a
careful engineer would find, not the best of a few fixed templates. A run
config may name axes (few-shot count, shot selection, calibration, output
constraints, a system prompt, any other prompt-variant option) and a budget;
every combination of axis values applied to a base prompt variant becomes a
named candidate. Candidates are evaluated on ``dev`` only (see
:mod:`harness.search_run`); the best on dev becomes the baseline.

This module is pure: spec, expansion and the successive-halving schedule
(Karnin, Koren and Somekh, 2013, "Almost Optimal Exploration in Multi-Armed
Bandits"; Jamieson and Talwalkar, 2016, "Non-stochastic Best Arm
Identification and Hyperparameter Optimization").
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.tasks import ClassificationTask, Task
from harness.variants.prompt import Variant
from harness.variants.spec import VariantSpec, conflicts
from harness.yamlio import YamlDoc

# Options a search may not vary: they change what a variant *is*, not how it prompts.
_FIXED = frozenset({"name", "kind", "rag", "adapter", "train", "description", "families",
                    "template", "templates"})
# Short codes for candidate names (other options: the option name and its value).
_CODES = {"shots": "k", "shot_selection": "", "calibrate": "cal", "constrain": "c",
          "scoring": "", "system": "sys", "reasoning": "reason"}


class SearchBudget(BaseModel):
    """What the search may spend on dev; at least one limit.

    ``dev_requests`` counts candidate x dev example x sample units (one model
    request each; calibration's three content-free requests per candidate
    come on top). ``tokens`` counts prompt plus completion tokens of the
    search's requests, ``minutes`` its wall time; both are checked between
    candidates, so a search can overrun them by one candidate's work.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    dev_requests: int | None = Field(None, ge=1)
    tokens: int | None = Field(None, ge=1)
    minutes: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_limit(self) -> SearchBudget:
        if self.dev_requests is None and self.tokens is None and self.minutes is None:
            raise ValueError("a budget needs at least one of dev_requests, tokens, minutes")
        return self


class PromptSearchSpec(BaseModel):
    """A run config's ``prompt_search`` block."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    variants: list[str] | None = Field(None, min_length=1)
    axes: dict[str, list[Any]] = Field(min_length=1)
    budget: SearchBudget
    eta: int = Field(2, ge=2, le=8)
    min_examples: int = Field(8, ge=1, le=10_000)


@dataclass(frozen=True)
class Candidate:
    """One expanded prompt: a variant plus the axis settings that made it."""

    variant: Variant
    base: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Round:
    """One round of successive halving: how many candidates, on how many dev examples."""

    candidates: int
    examples: int


def _code(key: str, value: Any) -> str:
    text = ("on" if value else "off") if isinstance(value, bool) else str(value)
    text = "".join(ch for ch in text.lower() if ch.isalnum()) or "none"
    prefix = _CODES.get(key, key.replace("_", ""))
    if key == "system":
        return f"sys{hashlib.sha256(str(value).encode()).hexdigest()[:4]}"
    return f"{prefix}{text}"


def _effective(spec: VariantSpec) -> str:
    """What a prompt does, without its name: equal strings prompt identically."""
    data = spec.model_dump(mode="json")
    data.pop("name", None)
    data.pop("description", None)
    if data.get("shots", 0) == 0:
        data.pop("shot_selection", None)
    return json.dumps(data, sort_keys=True)


def _check_axes(doc: YamlDoc, spec: PromptSearchSpec, base: Variant) -> None:
    """Each axis is a prompt option and each value valid for it (file:line otherwise)."""
    dumped = base.spec.model_dump()
    for key, values in spec.axes.items():
        if key not in VariantSpec.model_fields or key in _FIXED:
            allowed = sorted(set(VariantSpec.model_fields) - _FIXED)
            raise doc.error(f"prompt_search.axes: {key!r} is not a prompt option a search can "
                            f"vary (choose from {', '.join(allowed)})", ("prompt_search", "axes"))
        if not values:
            raise doc.error(f"prompt_search.axes.{key}: give at least one value",
                            ("prompt_search", "axes", key))
        for i, value in enumerate(values):
            try:
                VariantSpec.model_validate(dumped | {key: value})
            except ValidationError as exc:
                msg = exc.errors()[0]["msg"]
                raise doc.error(f"prompt_search.axes.{key}: {value!r} is not valid: {msg}",
                                ("prompt_search", "axes", key, i)) from None


def expand(doc: YamlDoc, spec: PromptSearchSpec, variants: Sequence[Variant]
           ) -> tuple[Candidate, ...]:
    """All distinct candidates: each base prompt variant x every combination of axis values.

    A candidate that prompts exactly like a config variant or an earlier
    candidate (e.g. a shot selection with no shots) is dropped, and so is a
    combination of levers that contradict each other
    (:func:`harness.variants.spec.conflicts`, e.g. calibration with per-input
    shots).

    Raises:
        UsageError: A base name that is no prompt variant of the config, an
            axis that is no prompt option, a value the option refuses, or
            axes that yield no candidate beyond the config's own variants.
    """
    by_name = {v.name: v for v in variants}
    names = spec.variants or [v.name for v in variants if v.spec.kind == "prompt"]
    bases = []
    for i, name in enumerate(names):
        v = by_name.get(name)
        if v is None or v.spec.kind != "prompt":
            prompts = ", ".join(x.name for x in variants if x.spec.kind == "prompt") or "none"
            raise doc.error(f"prompt_search.variants: {name!r} is not a prompt variant of this "
                            f"config (prompt variants: {prompts})",
                            ("prompt_search", "variants", i))
        bases.append(v)
    if not bases:
        raise doc.error("prompt_search: the config has no prompt variant to search from",
                        ("prompt_search",), hint="add a kind: prompt variant to 'variants'")
    seen = {_effective(v.spec) for v in variants}
    keys = list(spec.axes)
    out: list[Candidate] = []
    contradicting = 0
    for base in bases:
        _check_axes(doc, spec, base)
        for combo in itertools.product(*(spec.axes[k] for k in keys)):
            settings = dict(zip(keys, combo, strict=True))
            name = f"{base.name}__" + "_".join(_code(k, v) for k, v in settings.items())
            new = VariantSpec.model_validate(base.spec.model_dump() | settings | {"name": name})
            if conflicts(new):  # e.g. calibrate with per-input shots: cannot work together
                contradicting += 1
                continue
            effect = _effective(new)
            if effect in seen:
                continue
            seen.add(effect)
            digest = hashlib.sha256(f"{base.digest}:{effect}".encode()).hexdigest()[:16]
            out.append(Candidate(dataclasses.replace(base, spec=new, digest=digest),
                                 base.name, settings))
    if not out:
        why = (f"; {contradicting} combination(s) contradict each other" if contradicting
               else "")
        raise doc.error("prompt_search: every combination of the axes prompts like a variant "
                        f"already in the config{why}: nothing to search",
                        ("prompt_search", "axes"))
    return tuple(out)


def schedule(n_candidates: int, n_dev: int, budget: int | None, eta: int = 2,
             min_examples: int = 8, per_example: int = 1) -> tuple[Round, ...]:
    """Rounds of successive halving that fit ``budget`` dev requests.

    When every candidate fits on every dev example the search is a plain
    grid (one round). Otherwise there are ``R = ceil(log_eta n)`` rounds; round
    ``r`` keeps ``ceil(n / eta**r)`` candidates and gives each the same number
    of dev examples, ``floor(budget / (R * n_r * per_example))`` capped at
    ``n_dev``: later rounds spend the dev examples on the leaders.

    Args:
        n_candidates: Candidates to search among (``n >= 1``).
        n_dev: Dev examples available.
        budget: Dev requests allowed; None for no request limit (a grid).
        eta: Halving factor (keep ``1/eta`` of the candidates each round).
        min_examples: Fewest dev examples a candidate may be judged on.
        per_example: Requests per dev example (``samples``).

    Returns:
        The rounds, first to last; the last round's examples decide the winner.

    Raises:
        ValueError: The budget cannot give every candidate ``min_examples``
            in the first round (the message says how many requests would).
    """
    if n_candidates < 1 or n_dev < 1:
        raise ValueError("a search needs at least one candidate and one dev example")
    full = n_candidates * n_dev * per_example
    if budget is None or full <= budget:
        return (Round(n_candidates, n_dev),)
    rounds = max(1, math.ceil(math.log(n_candidates) / math.log(eta) - 1e-9))
    out = []
    for r in range(rounds):
        n_r = math.ceil(n_candidates / eta**r)
        m_r = min(n_dev, budget // (rounds * n_r * per_example))
        out.append(Round(n_r, m_r))
    first = min(min_examples, n_dev)
    if out[0].examples < first:
        need = rounds * n_candidates * first * per_example
        raise ValueError(f"a budget of {budget} dev requests gives each of the {n_candidates} "
                         f"candidates only {out[0].examples} dev examples in the first round "
                         f"(at least {first} are needed): raise budget.dev_requests to {need} "
                         "or drop axis values")
    # Rounds never shrink the examples a candidate has already been scored on.
    fixed = [out[0]]
    for rnd in out[1:]:
        fixed.append(Round(rnd.candidates, max(rnd.examples, fixed[-1].examples)))
    return tuple(fixed)


def round_requests(rounds: Sequence[Round], per_example: int = 1) -> int:
    """Dev requests a schedule makes at most (nested examples are cached across rounds)."""
    total, prev = 0, 0
    for i, rnd in enumerate(rounds):
        # A survivor re-uses its earlier examples from the cache: only new ones cost.
        total += rnd.candidates * (rnd.examples - (prev if i else 0)) * per_example
        prev = rnd.examples
    return total


def fits(candidate: Candidate, task: Task) -> bool:
    """Whether a candidate's settings mean something for ``task``.

    Calibration and ``constrain: labels`` need label answers (classification);
    ``constrain: schema`` needs a task with a JSON Schema and ``constrain:
    regex`` one with a regex: such a candidate is left out for other tasks
    rather than refused, since one search serves every task of a run.
    """
    if not candidate.variant.applies_to(task):
        return False
    s = candidate.settings
    label_task = isinstance(task.spec, ClassificationTask)
    if s.get("calibrate") and not label_task:
        return False
    constrain = s.get("constrain")
    if constrain == "labels" and not label_task:
        return False
    if constrain == "schema" and not task.resources.get("schema"):
        return False
    return not (constrain == "regex" and getattr(task.spec, "format", None) != "regex")


def fitting(task: Task, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
    """The candidates that apply to ``task``, in expansion order."""
    return tuple(c for c in candidates if fits(c, task))


def allowance(budget: SearchBudget, n_tasks: int) -> SearchBudget:
    """One task's share of the run's search budget (split evenly across searched tasks)."""
    n = max(1, n_tasks)
    return SearchBudget(
        dev_requests=None if budget.dev_requests is None else max(1, budget.dev_requests // n),
        tokens=None if budget.tokens is None else max(1, budget.tokens // n),
        minutes=None if budget.minutes is None else budget.minutes / n)


def task_schedule(spec: PromptSearchSpec, n_candidates: int, n_dev: int, samples: int,
                  n_tasks: int) -> tuple[Round, ...]:
    """The halving schedule of one task under its share of the budget.

    Raises:
        ValueError: As :func:`schedule` (no dev examples, or a budget too small).
    """
    if n_dev < 1:
        raise ValueError("the task has no dev examples to search on")
    share = allowance(spec.budget, n_tasks)
    return schedule(n_candidates, n_dev, share.dev_requests, spec.eta, spec.min_examples,
                    samples)
