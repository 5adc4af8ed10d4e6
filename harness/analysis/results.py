"""From stored records to the machine-readable results of a run.

Pure over its inputs: the records and the run's config as stored. The
baseline of each task is the best *prompting* variant on ``dev``; every
other variant is compared with it on ``test``, paired on the same examples.
Scores, intervals and comparisons use the task's declared metric, computed
as :mod:`harness.analysis.metric` defines it (macro-F1 over the set, not
accuracy, when the task says ``metric: macro_f1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from harness.analysis.cells import Cell, collect, scores_by_id, seeded_rng
from harness.analysis.choice import best_on_dev, best_variant
from harness.analysis.decision import decide_task, decision_settings, holm_families, run_verdict
from harness.analysis.diagnosis import diagnose, retrieval_summary
from harness.analysis.families import family_summary, scorer_summaries
from harness.analysis.metric import (
    PRIMARY,
    TaskMetric,
    compare_samples,
    interval,
    mean_over_examples,
    metric_of,
    primary_of,
    sample_weights,
    score,
    scorer_kind,
)
from harness.analysis.model import (
    SCHEMA,
    ComparisonResult,
    DecisionSettings,
    Diagnosis,
    PromptingShare,
    RunResults,
    SearchResult,
    TaskResult,
    VariantResult,
)
from harness.analysis.search import honesty_notes, leaderboard, prompting_share
from harness.analysis.stats import clustered
from harness.analysis.verdict import Verdict
from harness.scoring.classification import summarize
from harness.scoring.corpus import CORPUS_METRICS
from harness.scoring.fields import recorded_normalize
from harness.store import Record, RunRow

__all__ = ["PRIMARY", "build_results", "choose_baseline", "primary_of"]


def _config_order(cfg: Mapping[str, Any], name: str) -> tuple[int, int, str]:
    """Sort key: the variant's then the model's position in the config."""
    variant, _, model = name.partition("@")
    variants = [v["name"] for v in cfg["variants"]]
    models = list(cfg["models"])
    return (variants.index(variant) if variant in variants else len(variants),
            models.index(model) if model in models else 0, name)


def _mean(xs: Sequence[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def choose_baseline(dev_scores: Mapping[str, float], prompt_tokens: Mapping[str, float],
                    candidates: Sequence[str]) -> tuple[str, str]:
    """Pick the best prompting variant on dev (ties: shorter prompt, then name).

    Returns:
        The chosen name and a sentence saying why.
    """
    scored = [c for c in candidates if c in dev_scores and not math.isnan(dev_scores[c])]
    if not scored:
        return candidates[0], (f"no dev scores; using the first listed prompt variant "
                               f"{candidates[0]!r} (not chosen on test)")
    best = best_on_dev(dev_scores, prompt_tokens, scored)
    assert best is not None  # scored is not empty
    others = ", ".join(f"{c} {dev_scores[c]:.3f}" for c in scored if c != best)
    why = f"highest dev score {dev_scores[best]:.3f}" + (f" (vs {others})" if others else "")
    return best, why


def _variant_entry(name: str, kind: str, model: str, cell: Cell, task_cfg: Mapping[str, Any],
                   rng: np.random.Generator, resamples: int, conf: float) -> dict[str, Any]:
    # Several samples per example are averaged per example first: resampling draws examples.
    # A per-example metric's 0/1 scores get Wilson's interval (not [1, 1] at 100%).
    labels = list(task_cfg.get("labels", []))
    ci = interval(metric_of(task_cfg), labels, cell.samples(), rng, resamples, conf)
    family = str(task_cfg.get("family", "classification"))
    entry: dict[str, Any] = {
        "name": name, "kind": kind, "model": model, "score": ci.estimate,
        "ci_low": ci.low, "ci_high": ci.high, "n": ci.n, "errors": cell.errors,
        "prompt_tokens_mean": _mean(cell.prompt_tokens),
        "completion_tokens_mean": _mean(cell.completion_tokens),
        "scorers": scorer_summaries(cell.score_maps, rng, resamples, conf, cell.ids),
    }
    if cell.unscored_reason:
        entry["unscored"] = {"samples": int(np.isnan(np.asarray(cell.scores, float)).sum()),
                             "reason": cell.unscored_reason}
    if family == "classification":
        summary = summarize(cell.gold, cell.pred, labels, sample_weights(cell.ids))
        macro = TaskMetric("macro_f1", "label_accuracy", CORPUS_METRICS.get("macro_f1"))
        entry.update({
            "metrics": {"accuracy": _nan(mean_over_examples(cell.ids, cell.scores)),
                        "macro_f1": _nan(score(macro, labels, cell.samples())),
                        "invalid_rate": summary.invalid_rate},
            "confusion": {"labels": list(summary.labels),
                          "matrix": [list(r) for r in summary.confusion]},
            "per_label": summary.per_label})
    else:
        entry.update(family_summary(family, cell.score_maps, cell.outputs, cell.gold, rng,
                                    resamples, conf, how=recorded_normalize(task_cfg),
                                    ids=cell.ids))
    return entry


def _nan(x: float | None) -> float:
    return math.nan if x is None else x


def _compare(base: Cell, cand: Cell, baseline: str, candidate: str,
             rng: np.random.Generator, resamples: int, conf: float,
             min_gain: float, task_cfg: Mapping[str, Any]) -> ComparisonResult:
    """Candidate vs baseline on the test examples both scored (failed ones are dropped).

    The interval agrees with the test at level ``conf`` (see ``compare`` and
    :func:`~harness.analysis.corpus.corpus_compare`).
    """
    common = set(base.ids) & set(cand.ids)
    # Every sample of the examples both scored; the metric averages samples per example.
    a, b = base.samples(common), cand.samples(common)
    c = compare_samples(metric_of(task_cfg), list(task_cfg.get("labels", [])), a, b, rng,
                        resamples=resamples, confidence=conf, min_gain=min_gain,
                        names=(baseline, candidate))
    ua, ma = clustered(a.ids, a.scores)
    ub, mb = clustered(b.ids, b.scores)
    b_of = dict(zip(ub, mb, strict=True))
    d = np.asarray([b_of[i] for i in ua], dtype=float) - ma
    dropped = len(set(base.ids) ^ set(cand.ids))
    note = "; ".join(x for x in (c.note, f"{dropped} unpaired (failed) examples left out"
                                 if dropped else "") if x)
    return ComparisonResult(
        baseline=baseline, candidate=candidate, delta=c.delta, ci_low=c.ci_low,
        ci_high=c.ci_high, confidence=c.confidence, interval=c.interval, p_value=c.p_value,
        test=c.test, n=c.n, mde=c.mde, n_needed=c.n_needed, wins=int((d > 0).sum()),
        losses=int((d < 0).sum()), ties=int((d == 0).sum()), unpaired_dropped=dropped,
        note=note)


def _redo(base: Cell, cand: Cell, baseline: str, candidate: str,
          seed_names: tuple[int, str, str, str], resamples: int, min_gain: float,
          task_cfg: Mapping[str, Any], conf: float) -> ComparisonResult:
    """:func:`_compare` with a fresh generator of the same seed: the same test, any level."""
    return _compare(base, cand, baseline, candidate, seeded_rng(*seed_names), resamples, conf,
                    min_gain, task_cfg)


@dataclass
class _Draft:
    """One task's results while ``build_results`` builds them (never leaves this module)."""

    fields: dict[str, Any]
    cells: Mapping[str, Mapping[str, Cell]]
    cfg: Mapping[str, Any]
    variants: list[VariantResult] = field(default_factory=list)
    comparisons: list[ComparisonResult] = field(default_factory=list)
    redo: list[Callable[[float], ComparisonResult]] = field(default_factory=list)


def _diagnosis(d: _Draft, rng: np.random.Generator, res: int, conf: float,
               min_gain: float) -> Diagnosis | None:
    """The knowledge-vs-behaviour label, on the final (Holm-level) comparisons."""
    rag, lora = (best_variant(d.variants, k) for k in ("rag", "lora"))
    if rag is None:
        return None
    by_cand = {c.candidate: c for c in d.comparisons}
    lora_rag = None if lora is None else _compare(
        d.cells[rag]["test"], d.cells[lora]["test"], rag, lora, rng, res, conf, min_gain,
        d.cfg)
    return diagnose(by_cand.get(rag), by_cand.get(lora) if lora else None, lora_rag)


def _at_holm_levels(drafts: Sequence[_Draft], decision: DecisionSettings, conf: float) -> None:
    """Holm within the run's comparison families, each interval at its matching level."""
    families = holm_families([(d.variants, d.comparisons) for d in drafts], decision, conf)
    for (t, k), p_holm, level in (x for family in families for x in family):
        d = drafts[t]
        if level == conf:
            d.comparisons[k] = d.comparisons[k].model_copy(update={"p_holm": p_holm})
            continue
        again = d.redo[k](level)
        note = "; ".join(x for x in (f"{100 * level:.3g}% interval: Holm's level "
                                     "for this test", again.note) if x)
        d.comparisons[k] = again.model_copy(update={"p_holm": p_holm, "note": note})


def _draft(task_name: str, by_variant: Mapping[str, Mapping[str, Cell]],
           cfg: Mapping[str, Any], tcfg: Mapping[str, Any], primary: str) -> _Draft:
    """A task's variants (test and dev numbers) and its comparisons with the baseline."""
    spec = cfg["spec"]
    seed, res, conf = spec["seed"], spec["analysis"]["resamples"], spec["analysis"]["confidence"]
    min_gain = float((spec.get("decision") or {}).get("min_gain", 0.0))
    kinds = {v["name"]: v["kind"] for v in cfg["variants"]}
    searched = {v["name"] for v in cfg["variants"] if v.get("search")}
    names = sorted((n for n in by_variant if n.split("@")[0] not in searched
                    or "test" in by_variant[n]), key=lambda n: _config_order(cfg, n))
    variant_kind = {n: kinds.get(n.split("@")[0], "prompt") for n in names}
    metric = metric_of(tcfg)
    d = _Draft({"task": task_name, "family": str(tcfg.get("family", "classification")),
                "metric": "accuracy" if metric.name == "label_accuracy" else metric.name,
                "scorer": primary,
                "score_kind": "corpus" if metric.corpus else scorer_kind(primary)},
               by_variant, tcfg)
    if not names:
        d.fields.update(baseline=None, baseline_reason="no records", note="no records")
        return d
    dev = {n: x for n, c in by_variant.items()
           if (x := score(metric, list(tcfg.get("labels", [])), c["dev"].samples()))
           is not None}
    dev_tokens = {n: float(np.mean(c["dev"].prompt_tokens)) for n, c in by_variant.items()
                  if c["dev"].prompt_tokens}
    prompts = [n for n in names if variant_kind[n] == "prompt"] or names
    baseline, why = choose_baseline(dev, dev_tokens, prompts)
    d.fields.update(baseline=baseline, baseline_reason=why)
    for n in names:
        entry = _variant_entry(n, variant_kind[n], n.split("@", 1)[1] if "@" in n
                               else cfg["models"][0], by_variant[n]["test"], tcfg,
                               seeded_rng(seed, task_name, n), res, conf)
        if dev.get(n) is not None:
            entry["dev_score"] = dev[n]
        if n in dev_tokens:  # the best-on-dev rule's tie-break (analysis/choice.py)
            entry["dev_prompt_tokens_mean"] = dev_tokens[n]
        if variant_kind[n] == "rag":
            cell = by_variant[n]["test"]
            entry["retrieval"] = retrieval_summary(cell.outputs, cell.ids)
        d.variants.append(VariantResult.model_validate(entry))
    base = by_variant[baseline]["test"]
    for n in names:
        if n != baseline:
            again = partial(_redo, base, by_variant[n]["test"], baseline, n,
                            (seed, task_name, baseline, n), res, min_gain, tcfg)
            d.comparisons.append(again(conf))
            d.redo.append(again)
    if len(names) == 1:
        d.fields["note"] = "only one variant: no comparison is possible"
    return d


def build_results(run: RunRow, records: Iterable[Record],
                  trainings: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
                  searches: Mapping[tuple[str, str], Mapping[str, Any]] | None = None
                  ) -> RunResults:
    """The typed results (``results.json``) of one run, from the store alone.

    Builds each task's variants and comparisons, corrects the comparisons
    for multiplicity (Holm, each interval at its level), then diagnoses and
    decides each task and ranks its prompt search: one immutable
    :class:`~harness.analysis.model.RunResults`, nothing edited afterwards.
    ``trainings`` maps (task, variant) to the training record of the
    adapter a lora variant used; its measured time and tokens price the
    training. ``searches`` maps (task, model) to a prompt search's record;
    search candidates that never ran on test appear only in the task's
    ``search`` leaderboard.

    Raises:
        KeyError, ValueError, TypeError: The stored config cannot be analysed.
    """
    cfg = run.config
    task_cfgs = {t["name"]: t for t in cfg["tasks"]}
    primary = {name: primary_of(t) for name, t in task_cfgs.items()}
    spec = cfg["spec"]
    min_gain = float((spec.get("decision") or {}).get("min_gain", 0.0))
    seed, res, conf = spec["seed"], spec["analysis"]["resamples"], spec["analysis"]["confidence"]
    searched = any(v.get("search") for v in cfg["variants"])
    decision = decision_settings(spec)
    cells = collect(records, len(cfg["models"]) > 1, primary)
    drafts = [_draft(name, cells.get(name, {}), cfg, task_cfgs[name], primary[name])
              for name in task_cfgs]
    _at_holm_levels(drafts, decision, conf)
    tasks: list[TaskResult] = []
    verdicts: dict[str, Verdict] = {}
    for d in drafts:
        name = d.fields["task"]
        fields = dict(d.fields, variants=tuple(d.variants), comparisons=tuple(d.comparisons),
                      min_gain=decision.min_gain)
        if d.variants:  # after Holm: the diagnosis quotes the final intervals
            found = _diagnosis(d, seeded_rng(seed, name, "diagnosis"), res, conf, min_gain)
            if found is not None:
                fields["diagnosis"] = found
        decided = decide_task(name, d.variants, d.comparisons, fields["baseline"],
                              fields["metric"], cfg, trainings or {})
        fields.update(decided.fields)
        if decided.verdict is not None:
            verdicts[name] = decided.verdict
        if searched:
            fields.update(_search_section(fields, d.cells, cfg, searches or {}, seed, res,
                                          conf))
        tasks.append(TaskResult(**fields))
    return RunResults(
        schema_version=SCHEMA, run_id=run.run_id, created=run.created,
        config_digest=run.config_digest, config_path=run.config_path, status=run.status,
        model_calls=run.model_calls, seed=seed, confidence=conf, resamples=res,
        tasks=tuple(tasks), verdict=run_verdict(verdicts), decision=decision)


def _search_section(task: Mapping[str, Any], cells: Mapping[str, Mapping[str, Cell]],
                    cfg: Mapping[str, Any], searches: Mapping[tuple[str, str], Mapping[str, Any]],
                    seed: int, res: int, conf: float) -> dict[str, Any]:
    """The task's prompt-search leaderboard, honesty notes and prompting share.

    ``task`` holds the task's fields so far (``task``, ``baseline``,
    ``candidate``, ``variants``); returns the fields to add.
    """
    name, baseline = task["task"], task.get("baseline")
    variants: Sequence[VariantResult] = task["variants"]
    dev = {n: scores_by_id(c["dev"]) for n, c in cells.items() if "dev" in c}
    tokens = {n: int(sum(c["dev"].prompt_tokens) + sum(c["dev"].completion_tokens))
              for n, c in cells.items() if "dev" in c}
    record = next((r for (t, _), r in searches.items() if t == name), None)
    test = {v.name: v.score for v in variants}
    out: dict[str, Any] = {"search": SearchResult.model_validate(leaderboard(
        cfg["variants"], dev, tokens, record, test, seeded_rng(seed, name, "search"), res, conf))}
    prompts = [v.name for v in variants if v.kind == "prompt"]
    out["selection_notes"] = ([] if baseline is None else honesty_notes(
        baseline, prompts, dev, seeded_rng(seed, name, "selection"), res, conf))
    candidate = task.get("candidate")
    own = [p for p in prompts if not any(v["name"] == p and v.get("search")
                                         for v in cfg["variants"])]
    floor = min((p for p in own if p in dev and dev[p]),
                key=lambda p: (float(np.nanmean(list(dev[p].values()))), p), default=None)
    if candidate and baseline and floor and floor != baseline:
        share = prompting_share(scores_by_id(cells[floor]["test"]),
                                scores_by_id(cells[baseline]["test"]),
                                scores_by_id(cells[candidate]["test"]),
                                seeded_rng(seed, name, "share"), res, conf)
        out["prompting_share"] = PromptingShare.model_validate(
            share | {"floor": floor, "best_prompt": baseline, "fine_tune": candidate})
    return out
