"""The evaluation gate: run (or reuse) a config, decide, and say so in CI's terms.

Writes ``junit.xml`` (one test case per task) and ``summary.md`` (for a
pull-request comment) next to the report, and returns the exit code:
0 passes, 1 fails, 3 inconclusive (2, a usage error, is raised).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from harness.analysis.model import ComparisonResult, RunResults, TaskResult
from harness.config import load_config, with_decision
from harness.errors import UsageError
from harness.fmt import number, points
from harness.pipeline import run
from harness.runner import Progress
from harness.store import Store

Require = Literal["justified", "no-regression"]


@dataclass(frozen=True)
class GateResult:
    """What the gate decided and where it wrote the evidence."""

    exit_code: int
    label: str
    reason: str
    run_id: str
    report_dir: Path
    junit: Path
    summary: Path
    headline: str = ""
    """The run's answer: the label, or ``MIXED: ...`` when the tasks disagree."""
    gate_line: str = ""
    """The gate's rule applied: ``gate: fails (exit 1) because 1 task fails (...)``."""


def _decided(task: TaskResult) -> ComparisonResult:
    """The comparison a gated task's verdict rests on (its candidate against the baseline)."""
    c = task.comparison(task.candidate)
    assert c is not None  # _check keeps only tasks with a candidate, which has a comparison
    return c


def _task_outcome(task: TaskResult, require: Require, alpha: float) -> tuple[int, str]:
    if require == "no-regression":
        c = task.comparison(task.candidate)
        if c is None:
            return 0, "no comparison"
        worse = (c.delta is not None and c.delta < 0 and c.p_holm is not None
                 and c.p_holm < alpha)
        return (1, "significant regression") if worse else (0, "no significant regression")
    v = task.verdict
    assert v is not None  # a task with a candidate has a verdict
    return v.label.exit_code, str(v.label)


def _check(results: RunResults, min_n: int) -> list[TaskResult]:
    for t in results.tasks:  # not "too few examples": more of the same would not help
        if t.metric_undefined:
            raise UsageError(f"task {t.task}: {t.metric_undefined}",
                             hint="fix the data or choose another metric")
    tasks = [t for t in results.tasks if t.candidate]
    if not tasks:
        notes = "; ".join(f"{t.task}: {t.decision_note or 'no results'}" for t in results.tasks)
        raise UsageError(f"nothing to gate: {notes}",
                         hint="add a lora variant or set decision.candidate in the config")
    for t in tasks:
        c = _decided(t)
        if c.n < min_n:
            raise UsageError(f"task {t.task}: only {c.n} paired test examples; the gate "
                             f"needs at least {min_n} for any inference",
                             hint="add test examples or raise the limit")
    return tasks


def _junit(results: RunResults, outcomes: dict[str, tuple[int, str]]) -> str:
    cases = []
    for t in results.tasks:
        if t.task not in outcomes:
            continue
        code, label = outcomes[t.task]
        reason = label if t.verdict is None else t.verdict.reason
        body = ""
        if code == 1:
            body = f"<failure message={quoteattr(label)}>{escape(reason)}</failure>"
        elif code == 3:
            body = f"<skipped message={quoteattr(label + ': ' + reason)}/>"
        cases.append(f'  <testcase classname="tunegate.{escape(results.run_id)}" '
                     f"name={quoteattr(t.task)}>{body}</testcase>")
    fails = sum(1 for c, _ in outcomes.values() if c == 1)
    skips = sum(1 for c, _ in outcomes.values() if c == 3)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuite name="tunegate gate" tests="{len(cases)}" failures="{fails}" '
            f'skipped="{skips}" errors="0">\n' + "\n".join(cases) + "\n</testsuite>\n")




def _summary(results: RunResults, outcomes: dict[str, tuple[int, str]], head: str,
             gate_line: str, reason: str, report_dir: Path) -> str:
    icon = {0: "PASS", 1: "FAIL", 3: "INCONCLUSIVE"}  # prefixes unless the label says it
    lines = [f"## tunegate gate: {head}", "", f"**{gate_line[:1].upper()}{gate_line[1:]}.**",
             "", reason, "",
             "| task | candidate | baseline | gain | CI | p (Holm) | outcome |",
             "|---|---|---|---:|---|---:|---|"]
    for t in results.tasks:
        if t.task not in outcomes:
            continue
        c = _decided(t)
        code, what = outcomes[t.task]
        p = number(c.p_holm, ".3g")
        at = "" if c.confidence == results.confidence else f" at {100 * c.confidence:.3g}%"
        lines.append(f"| {t.task} | {t.candidate} | {t.baseline} | "
                     f"{points(c.delta)} | "
                     f"[{points(c.ci_low)}, {points(c.ci_high)}]{at} | "
                     f"{p} | {what if what.startswith(icon[code]) else icon[code] + ': ' + what}"
                     " |")
    lines += ["", f"Full report: `{report_dir / 'index.html'}` (run `{results.run_id}`)."]
    return "\n".join(lines) + "\n"


def gate(config: str | Path, *, min_gain: float | None = None,
         max_payback_months: float | None = None, require: Require = "justified",
         store: str | Path = ".tunegate", reports: str | Path = "reports",
         progress: Progress | None = None) -> GateResult:
    """Run (or reuse from the store) a config and decide whether it passes.

    Raises:
        UsageError: Bad config, nothing to gate, too few examples, missing prices.
    """
    cfg = with_decision(load_config(config), min_gain=min_gain,
                        max_payback_months=max_payback_months)
    if max_payback_months is not None and cfg.spec.economics is None:
        raise UsageError("--max-payback-months needs prices: add an 'economics' section",
                         cfg.path)
    st = Store(store)
    done = run(cfg, st, reports, progress)
    result, out, results = done.result, done.report_dir, done.results
    tasks = _check(results, cfg.spec.decision.min_examples)
    alpha = 1 - cfg.spec.analysis.confidence
    outcomes = {t.task: _task_outcome(t, require, alpha) for t in tasks}
    codes = [c for c, _ in outcomes.values()]
    code = 1 if 1 in codes else 3 if 3 in codes else 0
    if require == "justified" and results.verdict is not None:
        verdict = results.verdict
        label, reason = str(verdict.label), verdict.reason
        code = verdict.label.exit_code
        head, gate_line = verdict.headline or label, verdict.gate
    else:
        label = {0: "PASSED", 1: "FAILED", 3: "INCONCLUSIVE"}[code]
        reason = f"require {require}: " + "; ".join(f"{k}: {v}" for k, (_, v)
                                                     in outcomes.items())
        head, gate_line = label, regression_gate_line(code, codes)
    junit, summary = out / "junit.xml", out / "summary.md"
    junit.write_text(_junit(results, outcomes))
    summary.write_text(_summary(results, outcomes, head, gate_line, reason, out))
    return GateResult(code, label, reason, result.run_id, out, junit, summary, head, gate_line)


def regression_gate_line(code: int, codes: list[int]) -> str:
    """The ``--require no-regression`` rule applied, in one line.

    Example:
        >>> regression_gate_line(1, [0, 1, 1])
        'gate (require no-regression): fails (exit 1) because 2 of 3 tasks regress significantly'
    """
    if code == 1:
        k = codes.count(1)
        return (f"gate (require no-regression): fails (exit 1) because {k} of {len(codes)} "
                f"task{'' if len(codes) == 1 else 's'} regress{'es' if k == 1 else ''} "
                "significantly")
    return ("gate (require no-regression): passes (exit 0): no task is significantly worse "
            "than its baseline")
