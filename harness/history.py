"""History across runs and regression detection for the nightly job.

Every run stays in the store, so history is a query: per (task, variant,
model) the test score of each finished run. A regression is a paired
comparison of a run against an earlier one (the previous finished run of
the same config name, or a pinned run id) on the test examples both
scored: a drop beyond ``tolerance`` that is significant after Holm's
correction, read from the interval at the matching Holm level (which
excludes 0 exactly when the Holm-adjusted p-value is below alpha). Runs
whose task data changed (different task digest) are not compared as if
they were the same.

Scores and comparisons use the task's metric as the report computes it
(:mod:`harness.analysis.metric`): every sample of an example counts (mean
over its samples, then over examples), and macro-F1 is macro-F1.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from harness.analysis.intervals import holm_levels
from harness.analysis.metric import Samples, TaskMetric, compare_samples, metric_of, score
from harness.analysis.stats import Comparison, holm
from harness.errors import UsageError
from harness.store import Record, RunRow, Store

Key = tuple[str, str, str]  # task, variant, model


@dataclass(frozen=True)
class HistoryRow:
    """One (run, task, variant, model) test score."""

    run_id: str
    created: str
    config: str
    task: str
    task_digest: str
    variant: str
    model: str
    score: float
    n: int


@dataclass(frozen=True)
class Regression:
    """A significant drop of one (task, variant, model) against a reference run."""

    task: str
    variant: str
    model: str
    reference: str
    delta: float
    ci_low: float
    ci_high: float
    p_holm: float
    n: int
    confidence: float = 0.95

    def line(self) -> str:
        """One line for the terminal and CI logs."""
        return (f"REGRESSION {self.task}/{self.variant} on {self.model}: "
                f"{100 * self.delta:+.1f} pp vs run {self.reference} "
                f"({100 * self.confidence:.3g}% CI {100 * self.ci_low:+.1f} to "
                f"{100 * self.ci_high:+.1f}, "
                f"p(Holm)={self.p_holm:.3g}, n={self.n})")


def _metrics(run: RunRow) -> dict[str, tuple[TaskMetric, list[str]]]:
    """The metric and labels of each task of a run, as its config recorded them."""
    return {t["name"]: (metric_of(t), list(t.get("labels", []))) for t in run.config["tasks"]}


def _test_samples(run: RunRow, records: Iterable[Record]) -> dict[Key, Samples]:
    """Every scored test sample of each (task, variant, model): all samples, not the last."""
    metrics = _metrics(run)
    cols: dict[Key, tuple[list[str], list[float], list[str], list[str | None]]] = \
        defaultdict(lambda: ([], [], [], []))
    for rec in records:
        if rec.split != "test" or rec.error is not None or rec.task not in metrics:
            continue
        entry = rec.scores.get(metrics[rec.task][0].scorer, {})
        value = entry.get("value") if isinstance(entry, dict) else None
        if value is None:
            continue
        ids, scores, gold, pred = cols[(rec.task, rec.variant, rec.model)]
        ids.append(rec.example_id)
        scores.append(float(value))
        gold.append(rec.target)
        pred.append(rec.output.get("prediction"))
    return {k: Samples(*v) for k, v in cols.items()}


def _only(s: Samples, keep: set[str]) -> Samples:
    rows = [k for k, i in enumerate(s.ids) if i in keep]
    return Samples([s.ids[k] for k in rows], [s.scores[k] for k in rows],
                   [s.gold[k] for k in rows], [s.pred[k] for k in rows])


def _digests(records: Iterable[Record]) -> dict[str, str]:
    return {rec.task: rec.task_digest for rec in records}


def history(store: Store, task: str | None = None, since: str | None = None) -> list[HistoryRow]:
    """Test scores of every finished run, oldest first (optionally one task, since a date)."""
    rows = []
    for run in store.runs():
        if run.status not in ("done", "incomplete") or (since and run.created < since):
            continue
        recs = list(store.records(run.run_id))
        digests, metrics = _digests(recs), _metrics(run)
        for (t, variant, model), samples in sorted(_test_samples(run, recs).items()):
            value = score(*metrics[t], samples)
            if (task is None or t == task) and value is not None:
                rows.append(HistoryRow(run.run_id, run.created, run.config["spec"]["name"],
                                       t, digests[t], variant, model, value,
                                       len(set(samples.ids))))
    return rows


def reference_run(store: Store, run: RunRow, against: str) -> RunRow | None:
    """The run to compare with: ``previous`` (same config name) or a run id."""
    if against != "previous":
        return store.get_run(against)
    name = run.config["spec"]["name"]
    earlier = [r for r in store.runs() if r.config["spec"]["name"] == name
               and r.status in ("done", "incomplete") and r.run_id != run.run_id
               and (r.created, r.run_id) < (run.created, run.run_id)]
    return earlier[-1] if earlier else None


def _paired(metric: tuple[TaskMetric, list[str]], before: Samples, now: Samples,
            seed_text: str, names: tuple[str, str], level: float) -> Comparison:
    """``now`` against ``before`` on the task's metric, at interval level ``level``."""
    h = hashlib.sha256(seed_text.encode()).digest()
    return compare_samples(*metric, before, now, np.random.default_rng(
        int.from_bytes(h[:8], "big")), resamples=2000, confidence=level, min_gain=0.0,
        names=names)


def regressions(store: Store, run_id: str, against: str = "previous", tolerance: float = 0.0,
                confidence: float = 0.95, seed: int = 0) -> tuple[list[Regression], list[str]]:
    """Significant drops of ``run_id`` against a reference run, plus notes.

    Raises:
        UsageError: A pinned reference run does not exist.
    """
    run = store.get_run(run_id)
    ref = reference_run(store, run, against)
    if ref is None:
        return [], ["no earlier run of this config to compare with"]
    now_recs, ref_recs = list(store.records(run.run_id)), list(store.records(ref.run_id))
    now, before = _test_samples(run, now_recs), _test_samples(ref, ref_recs)
    metrics = _metrics(run)
    d_now, d_ref = _digests(now_recs), _digests(ref_recs)
    notes: list[str] = []
    found: list[tuple[Key, Comparison, Callable[[float], Comparison]]] = []
    for key in sorted(set(now) & set(before)):
        task = key[0]
        if d_now[task] != d_ref[task]:
            notes.append(f"{task}: task data changed since run {ref.run_id}; not compared")
            continue
        common = set(now[key].ids) & set(before[key].ids)
        if len(common) < 2:
            notes.append(f"{'/'.join(key[:2])}: fewer than 2 shared test examples")
            continue
        again = partial(_paired, metrics[task], _only(before[key], common),
                        _only(now[key], common), f"{seed}:{'/'.join(key)}",
                        (ref.run_id, run.run_id))
        found.append((key, again(confidence), again))
    ps = [c.p_value for _, c, _ in found]
    alpha = 1 - confidence
    regs = []
    for (k, first, redo), p, level in zip(found, holm(ps), holm_levels(ps, confidence),
                                          strict=True):
        c = first if level == confidence else redo(level)
        if c.delta < -tolerance and p < alpha and c.ci_high < -tolerance:
            regs.append(Regression(k[0], k[1], k[2], ref.run_id, c.delta, c.ci_low,
                                   c.ci_high, p, c.n, c.confidence))
    return regs, notes


def format_history(rows: Sequence[HistoryRow]) -> list[str]:
    """The trend table as lines of text."""
    if not rows:
        return ["no finished runs in the store yet"]
    out = [f"{'created':<26} {'run':<28} {'task':<18} {'variant':<14} {'model':<18} "
           f"{'score':>7} {'n':>5}"]
    out += [f"{r.created:<26} {r.run_id:<28} {r.task:<18} {r.variant:<14} {r.model:<18} "
            f"{100 * r.score:>6.1f}% {r.n:>5}" for r in rows]
    return out


def check_since(since: str | None) -> str | None:
    """Validate ``--since`` (an ISO date) and return it normalised.

    Raises:
        UsageError: Not an ISO date.
    """
    if since is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(since).isoformat()
    except ValueError:
        raise UsageError(f"--since {since!r} is not a date", hint="use YYYY-MM-DD") from None
