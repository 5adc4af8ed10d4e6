"""Run configs: which tasks, variants and models to run, with which seed.

Paths inside a config are relative to the config file. Everything that
changes the experiment (seed, splits, limits) is part of the config digest
recorded with the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.analysis.economics import EconomicsSpec
from harness.backends.base import ModelSpec, parse_spec
from harness.econcheck import check_economics
from harness.errors import UsageError
from harness.minilm import MiniLM
from harness.scoring.metrics import check_metric
from harness.tasks import Task, load_task
from harness.variants.levers import check_task_levers
from harness.variants.prompt import Variant, load_variant
from harness.variants.rag import check_rag
from harness.variants.search import Candidate, PromptSearchSpec, expand, fitting, task_schedule
from harness.yamlio import YamlDoc, load_yaml, validate


class AnalysisSpec(BaseModel):
    """Statistics settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resamples: int = Field(2000, ge=200, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)


class DecisionSpec(BaseModel):
    """What counts as worth fine-tuning (the gate's thresholds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    candidate: str = "auto"
    min_gain: float = Field(0.02, ge=-1.0, le=1.0)
    max_payback_months: float = Field(12.0, gt=0.0)
    min_examples: int = Field(10, ge=2)


class RegressionSpec(BaseModel):
    """Nightly regression check: compare each run with an earlier one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    against: str = "previous"
    tolerance: float = Field(0.0, ge=0.0, le=1.0)


class RunSpec(BaseModel):
    """What a run config file may say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_.-]+$")
    description: str = ""
    seed: int = 0
    tasks: list[str] = Field(min_length=1)
    variants: list[str] = Field(min_length=1)
    models: list[str] = Field(["embedded"], min_length=1)
    splits: list[Literal["dev", "test"]] = ["dev", "test"]
    limit: dict[Literal["dev", "test"], Annotated[int, Field(ge=1)]] = {}
    samples: int = Field(1, ge=1, le=100)
    concurrency: int = Field(4, ge=1, le=256)
    max_retries: int = Field(4, ge=0, le=20)
    analysis: AnalysisSpec = AnalysisSpec()
    decision: DecisionSpec = DecisionSpec()
    economics: EconomicsSpec | None = None
    regression: RegressionSpec | None = None
    prompt_search: PromptSearchSpec | None = None


@dataclass(frozen=True)
class RunConfig:
    """A loaded run config with its tasks, variants and model specs resolved."""

    spec: RunSpec
    path: Path
    tasks: tuple[Task, ...]
    variants: tuple[Variant, ...]
    models: tuple[ModelSpec, ...]
    digest: str
    exclude: frozenset[tuple[str, str]] = frozenset()
    """(variant name, model spec) pairs not to run (``compare-base`` uses it)."""
    candidates: tuple[Candidate, ...] = ()
    """Prompt-search candidates (``prompt_search``): run on dev, the winner also on test."""

    def runs(self, variant: Variant, model: ModelSpec) -> bool:
        """Whether ``variant`` runs on ``model`` in this config."""
        return (variant.name, str(model)) not in self.exclude

    def to_json(self) -> dict[str, Any]:
        """The config as recorded in the store (resolved paths, digests)."""
        return {
            "spec": self.spec.model_dump(mode="json"),
            "path": str(self.path),
            "tasks": [{"name": t.name, "path": str(t.path), "digest": t.digest,
                       "family": t.family, "labels": list(getattr(t.spec, "labels", [])),
                       "metric": str(t.spec.metric or t.primary_scorer),
                       "primary": t.primary_scorer,
                       "n_train": len(t.split("train")), "normalize": _normalize(t)}
                      for t in self.tasks],
            "variants": [{"name": v.name, "path": str(v.path), "digest": v.digest,
                          "kind": v.spec.kind} for v in self.variants] + [
                {"name": c.variant.name, "path": str(c.variant.path), "digest": c.variant.digest,
                 "kind": "prompt", "search": True, "base": c.base,
                 "settings": dict(c.settings)} for c in self.candidates],
            "models": [str(m) for m in self.models],
            "exclude": sorted([v, m] for v, m in self.exclude),
        }


def _normalize(task: Task) -> dict[str, Any] | None:
    """How the task's answers are normalised (format, terminology), for readers of the store."""
    norm = getattr(task.spec, "normalize", None)
    return norm.model_dump() if norm is not None else None


def _resolve_list(doc: YamlDoc, key: str) -> list[Path]:
    out = []
    for i, rel in enumerate(doc.data.get(key, [])):
        p = (doc.path.parent / str(rel)).resolve()
        if not p.is_file():
            raise doc.error(f"{key[:-1]} file not found: {p}", (key, i))
        out.append(p)
    return out


def _check_templates(tasks: tuple[Task, ...], variants: tuple[Variant, ...]) -> None:
    """Render every variant once per task so a misspelt template name fails now.

    A rag variant runs only on tasks with a knowledge collection; one that
    would run on no task at all is an error (it was surely meant to run).
    """
    for variant in variants:
        if variant.spec.kind == "rag" and not any(variant.applies_to(t) for t in tasks):
            admitted = [t for t in tasks if variant.spec.families is None
                        or t.family in variant.spec.families]
            if admitted:
                check_rag(admitted[0], variant)
    for task in tasks:
        for variant in variants:
            if not variant.applies_to(task):
                continue
            check_rag(task, variant)
            check_task_levers(task, variant)
            rows = task.split("train") or task.split("test")
            variant.render(task, rows[0].input if rows else "", rows[:1],
                           [{"id": "p#0", "passage_id": "p", "text": "..."}])
            variant.render_system(task)


def load_config(path: str | Path) -> RunConfig:
    """Load a run config and everything it names.

    Raises:
        UsageError: Anything wrong in the config or in a file it names.
    """
    doc = load_yaml(path)
    spec = validate(RunSpec, doc)
    encoder = MiniLM()  # one per loaded config: the run loads MiniLM at most once
    tasks = tuple(dataclasses.replace(load_task(p), encoder=encoder)
                  for p in _resolve_list(doc, "tasks"))
    for task in tasks:  # before any model call: a metric no example defines is a usage error
        check_metric(task)
    variants = tuple(load_variant(p) for p in _resolve_list(doc, "variants"))
    for kind, names in (("task", [t.name for t in tasks]),
                        ("variant", [v.name for v in variants])):
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise doc.error(f"two {kind}s are named {sorted(dup)[0]!r}", (f"{kind}s",))
    models = []
    for i, text in enumerate(spec.models):
        try:
            models.append(parse_spec(text))
        except UsageError as exc:
            raise doc.error(exc.message, ("models", i), hint=exc.hint) from None
    check_economics(doc, spec.economics.model_dump() if spec.economics else None,
                    spec.decision.candidate, tasks, variants)
    _check_templates(tasks, variants)
    candidates = check_search(doc, spec, tasks, variants)
    return RunConfig(spec, doc.path, tasks, variants, tuple(models),
                     _digest(spec, tasks, variants), candidates=candidates)


def check_search(doc: YamlDoc, spec: RunSpec, tasks: tuple[Task, ...],
                 variants: tuple[Variant, ...]) -> tuple[Candidate, ...]:
    """Expand ``prompt_search`` and check its budget fits every task's dev set now.

    Raises:
        UsageError: Bad axes or values, no candidate for any task, no dev
            split to search on, or a budget too small for the first round.
    """
    search = spec.prompt_search
    if search is None:
        return ()
    if "dev" not in spec.splits:
        raise doc.error("prompt_search needs the dev split: candidates are chosen on dev "
                        "only", ("splits",))
    candidates = expand(doc, search, variants)
    searched = [t for t in tasks if fitting(t, candidates)]
    if not searched:
        raise doc.error("prompt_search: no candidate applies to any task of this config "
                        "(check the base variants' families and the axes)", ("prompt_search",))
    for task in searched:
        n_train = len(task.split("train"))
        for cand in fitting(task, candidates):
            k = cand.variant.spec.shots
            if "shots" in cand.settings and k > n_train:
                idx = search.axes["shots"].index(k)
                raise doc.error(f"prompt_search.axes.shots: {k} shots, but task {task.name!r} "
                                f"has {n_train} train examples to draw them from",
                                ("prompt_search", "axes", "shots", idx))
        try:
            n_dev = len(task.split("dev"))
            n_dev = min(n_dev, spec.limit.get("dev", n_dev))
            task_schedule(search, len(fitting(task, candidates)), n_dev, spec.samples,
                          len(searched))
        except ValueError as exc:
            raise doc.error(f"prompt_search.budget: task {task.name!r}: {exc}",
                            ("prompt_search", "budget")) from None
    _check_templates(tasks, tuple(c.variant for c in candidates))
    return candidates


def _digest(spec: RunSpec, tasks: tuple[Task, ...], variants: tuple[Variant, ...]) -> str:
    blob = json.dumps({"spec": spec.model_dump(mode="json"),
                       "tasks": [t.digest for t in tasks],
                       "variants": [v.digest for v in variants]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def with_decision(cfg: RunConfig, **overrides: Any) -> RunConfig:
    """A copy of ``cfg`` with decision thresholds overridden (``None`` keeps a value).

    The thresholds are part of the run record, so a gate with other thresholds
    is another run; its responses all come from the cache.

    Raises:
        UsageError: An override is out of range.
    """
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return cfg
    try:
        decision = DecisionSpec.model_validate(cfg.spec.decision.model_dump() | changes)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "--" + str(err["loc"][0] if err["loc"] else "option").replace("_", "-")
        raise UsageError(f"invalid gate option {name}: {err['msg']}") from None
    spec = cfg.spec.model_copy(update={"decision": decision})
    return dataclasses.replace(cfg, spec=spec, digest=_digest(spec, cfg.tasks, cfg.variants))
