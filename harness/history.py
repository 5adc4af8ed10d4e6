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
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from harness.analysis.intervals import holm_levels
from harness.analysis.stats import Comparison, compare, holm
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


def _primaries(run: RunRow) -> dict[str, str]:
    """The primary scorer of each task of a run (the task's, else its family's)."""
    from harness.analysis.results import primary_of

    return {t["name"]: primary_of(t) for t in run.config["tasks"]}


def _test_scores(run: RunRow, records: Iterable[Record]) -> dict[Key, dict[str, float]]:
    primary = _primaries(run)
    out: dict[Key, dict[str, float]] = defaultdict(dict)
    for rec in records:
        if rec.split != "test" or rec.error is not None:
            continue
        score = rec.scores.get(primary.get(rec.task, ""), {})
        value = score.get("value") if isinstance(score, dict) else None
        if value is not None:
            out[(rec.task, rec.variant, rec.model)][rec.example_id] = value
    return out


def _digests(records: Iterable[Record]) -> dict[str, str]:
    return {rec.task: rec.task_digest for rec in records}


def history(store: Store, task: str | None = None, since: str | None = None) -> list[HistoryRow]:
    """Test scores of every finished run, oldest first (optionally one task, since a date)."""
    rows = []
    for run in store.runs():
        if run.status not in ("done", "incomplete") or (since and run.created < since):
            continue
        recs = list(store.records(run.run_id))
        digests = _digests(recs)
        for (t, variant, model), scores in sorted(_test_scores(run, recs).items()):
            if task is None or t == task:
                rows.append(HistoryRow(run.run_id, run.created, run.config["spec"]["name"],
                                       t, digests[t], variant, model,
                                       float(np.mean(list(scores.values()))), len(scores)))
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


def _paired(before: list[float], now: list[float], ids: list[str], seed_text: str,
            names: tuple[str, str], level: float) -> Comparison:
    """``now`` against ``before`` on the same ids: McNemar for 0/1 scores, else sign-flip."""
    h = hashlib.sha256(seed_text.encode()).digest()
    binary = all(v in (0.0, 1.0) for v in [*before, *now])
    return compare(ids, before, ids, now, "binary" if binary else "continuous",
                   np.random.default_rng(int.from_bytes(h[:8], "big")), confidence=level,
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
    now, before = _test_scores(run, now_recs), _test_scores(ref, ref_recs)
    d_now, d_ref = _digests(now_recs), _digests(ref_recs)
    notes: list[str] = []
    found: list[tuple[Key, Comparison, Callable[[float], Comparison]]] = []
    for key in sorted(set(now) & set(before)):
        task = key[0]
        if d_now[task] != d_ref[task]:
            notes.append(f"{task}: task data changed since run {ref.run_id}; not compared")
            continue
        common = sorted(set(now[key]) & set(before[key]))
        if len(common) < 2:
            notes.append(f"{'/'.join(key[:2])}: fewer than 2 shared test examples")
            continue
        again = partial(_paired, [before[key][i] for i in common],
                        [now[key][i] for i in common], common, f"{seed}:{'/'.join(key)}",
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
