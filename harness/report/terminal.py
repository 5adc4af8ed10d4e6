"""The answer on the screen: a compact table of a run's results, then its headline.

One row per task: the task, the baseline (and how it was chosen), the
candidate, the gain with its interval, the verdict and the payback. It is
rendered three ways: a rich table in a terminal, aligned plain text when
the output is a file or a pipe, and one block per task in a terminal too
narrow for a table (:data:`NARROW` columns), so every width stays readable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from typing import Any

from harness.analysis.model import (
    ComparisonResult,
    EconomicsResult,
    RunResults,
    TaskResult,
    VariantResult,
)
from harness.fmt import NA, interval, num, number, pct, pp
from harness.report.html import verdict_of

__all__ = ["NARROW", "Row", "base_rows", "decisions_headline", "headers", "plain_lines",
           "rich_table", "run_headline", "run_rows", "stacked_lines", "verdict_style"]

NARROW = 72
"""Below this many columns a terminal gets one block per task instead of a table."""


@dataclass(frozen=True)
class Row:
    """One task's line of the summary (every cell already text)."""

    task: str
    baseline: str
    candidate: str
    gain: str
    verdict: str
    payback: str


def headers(confidence: float) -> tuple[str, ...]:
    """Column titles; the gain's interval level from the run's confidence (0.95 -> 95%)."""
    level = round(100 * (0.95 if math.isnan(num(confidence)) else num(confidence)))
    return ("task", "baseline (how chosen)", "candidate", f"gain, points [{level}% CI]",
            "verdict", "payback")


def _score(variant: VariantResult | None) -> str:
    return pct(None if variant is None else variant.score)


def _gain(c: ComparisonResult | None) -> str:
    if c is None:
        return "-"
    ci = interval(c.ci_low, c.ci_high, pp)
    return pp(c.delta) + ("" if ci == NA else f" {ci}")


def _how(reason: str) -> str:
    return "best on dev" if reason.startswith("highest dev score") else "first listed, no dev"


def _payback(econ: EconomicsResult | None) -> str:
    if econ is None:
        return "no prices"
    months = num(econ.payback_months)
    if econ.never_pays_back or math.isinf(months):
        return "never"
    return number(months, ".1f", suffix=" months")


def run_rows(results: RunResults) -> list[Row]:
    """The rows of a run or gate."""
    rows = []
    for t in results.tasks:
        base = t.baseline
        if base is None:
            rows.append(Row(t.task, "-", "-", "-", "no records", "-"))
            continue
        cand = t.candidate
        label, _ = verdict_of(t)
        rows.append(Row(
            t.task,
            f"{base} {_score(t.variant(base))} ({_how(t.baseline_reason)})",
            f"{cand} {_score(t.variant(cand))}" if cand else "-",
            _gain(t.comparison(cand)) if cand else "-",
            label or "no verdict",
            _payback(t.economics) if cand else "-"))
    return rows


_NO_TASK = TaskResult(task="", family="", metric="", scorer="", score_kind="", variants=(),
                      comparisons=(), baseline=None, baseline_reason="", min_gain=0.0,
                      candidate=None, verdict=None)
"""A task with no results, for a decision whose task the run does not have."""


def base_rows(results: RunResults, decisions: Iterable[Any]) -> list[Row]:
    """The rows of ``compare-base``: the old adapter against the new base's best prompt.

    ``decisions`` are :class:`~harness.compare_base.BaseDecision` (task, label,
    old_adapter, new_prompt). The payback column says whether a retraining cost
    was measured (it is in the decision's reason).
    """
    rows = []
    for d in decisions:
        t = results.task(d.task) or _NO_TASK
        base = d.new_prompt or "-"
        rows.append(Row(
            d.task,
            f"{base} {_score(t.variant(base))} (best on dev)" if d.new_prompt else "-",
            f"{d.old_adapter} {_score(t.variant(d.old_adapter))}" if d.old_adapter else "-",
            _gain(t.comparison(d.old_adapter)), d.label,
            "see the reason" if "retraining costs" in getattr(d, "reason", "") else "-"))
    return rows


def plain_lines(rows: Sequence[Row], titles: Sequence[str]) -> list[str]:
    """Aligned columns, two spaces apart, no colour: for files, pipes and CI logs."""
    cells = [list(titles), *(list(astuple(r)) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(titles))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells]


def stacked_lines(rows: Sequence[Row], titles: Sequence[str]) -> list[str]:
    """One block per task, one ``title: value`` line each: readable at any width."""
    out: list[str] = []
    for row in rows:
        values = astuple(row)
        out.append(f"{values[0]}")
        out += [f"  {title}: {value}" for title, value in zip(titles[1:], values[1:],
                                                               strict=True)]
    return out


def verdict_style(label: str) -> str:
    """A rich style for a verdict or headline (colour only; NO_COLOR turns it off)."""
    for prefix, style in (("FINE-TUNE JUSTIFIED", "green"), ("RETIRE", "green"),
                          ("NOT JUSTIFIED", "red"), ("RETRAIN", "red"), ("USE RAG", "cyan"),
                          ("KEEP", "cyan"), ("INCONCLUSIVE", "yellow"), ("MIXED", "yellow")):
        if label.startswith(prefix):
            return style
    return ""


def rich_table(rows: Sequence[Row], titles: Sequence[str]) -> Any:
    """A rich ``Table`` that wraps its cells to the terminal's width."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, title in enumerate(titles):
        table.add_column(title, overflow="fold", no_wrap=i == 0)
    for row in rows:
        values: list[Any] = list(astuple(row))
        values[4] = Text(row.verdict, style=verdict_style(row.verdict))
        table.add_row(*values)
    return table


def run_headline(results: RunResults) -> tuple[str, str | None]:
    """The run's headline (``MIXED: ...`` when its tasks disagree) and the gate's rule.

    Without verdicts: the reason there is none, and no gate line.
    """
    label, reason = verdict_of(results)
    v = results.verdict
    if label is None or v is None:
        return reason, None
    return v.headline or label, v.gate or None


def decisions_headline(decisions: Sequence[tuple[str, str]]) -> str:
    """``compare-base``'s headline from (task, label) pairs.

    Example:
        >>> decisions_headline([("a", "RETRAIN"), ("b", "RETRAIN")])
        'RETRAIN (all 2 tasks)'
        >>> decisions_headline([("a", "RETIRE ADAPTER"), ("b", "RETRAIN"), ("c", "RETRAIN")])
        'MIXED: a: RETIRE ADAPTER; b, c: RETRAIN'
    """
    groups: dict[str, list[str]] = {}
    for task, label in decisions:
        groups.setdefault(label, []).append(task)
    if not groups:
        return "no decision: no task to compare"
    if len(groups) == 1:
        ((label, tasks),) = groups.items()
        return label if len(tasks) == 1 else f"{label} (all {len(tasks)} tasks)"
    return "MIXED: " + "; ".join(f"{', '.join(t)}: {label}" for label, t in groups.items())
