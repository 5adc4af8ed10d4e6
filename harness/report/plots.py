"""The report's figures: matplotlib (Agg, no pyplot state), returned as PNG bytes.

Every function reads the typed results (:class:`~harness.analysis.model.RunResults`):
a missing or null (NaN) number is skipped, never a crash, and a
figure with nothing to show returns ``None``. The same input gives the same
bytes (no timestamps in the PNG metadata).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from harness.analysis.model import EconomicsResult, RunResults, TaskResult, VariantResult
from harness.fmt import num
from harness.report.family_plots import fields_png, tone_png
from harness.report.figure import png as _png
from harness.report.fonts import with_fonts

__all__ = ["Plot", "confusion_png", "economics_png", "forest_png", "make_plots",
           "matrix_png", "num", "payback_months", "trend_png"]

_MAX_CONFUSION_PANELS = 9
_GOOD, _BAD, _NEUTRAL = "#1a7f37", "#cf222e", "#57606a"


@dataclass(frozen=True)
class Plot:
    """One rendered figure.

    Attributes:
        name: File stem, unique in the report (``forest``, ``confusion-toy``).
        title: Shown above the image and used as its alt text.
        png: The image.
        task: The task it belongs to, or None for a run-wide figure.
    """

    name: str
    title: str
    png: bytes
    task: str | None = None


def _t(text: object) -> str:
    """Text for matplotlib: dollar signs literal (no mathtext)."""
    return str(text).replace("$", r"\$")


def _variant_names(results: RunResults) -> list[str]:
    names: list[str] = []
    for task in results.tasks:
        for v in task.variants:
            if v.name not in names:
                names.append(v.name)
    return names


def _cell_text(v: VariantResult) -> str:
    score, lo, hi = num(v.score), num(v.ci_low), num(v.ci_high)
    if math.isnan(score):
        return "n/a"
    ci = "no CI" if math.isnan(lo) or math.isnan(hi) else f"[{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"{100 * score:.1f}\n{ci}"


@with_fonts
def matrix_png(results: RunResults) -> bytes | None:
    """Task x variant matrix: test score (%) with its interval, baseline outlined."""
    tasks = [t for t in results.tasks if t.variants]
    names = _variant_names(results)
    if not tasks or not names:
        return None
    grid = np.full((len(tasks), len(names)), np.nan)
    fig = Figure(figsize=(max(4.0, 1.7 * len(names) + 2.0), 0.9 * len(tasks) + 1.6))
    ax = fig.add_subplot()
    for i, task in enumerate(tasks):
        for v in task.variants:
            j = names.index(v.name)
            grid[i, j] = num(v.score)
            dark = grid[i, j] > 0.6
            ax.text(j, i, _cell_text(v), ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
            if v.name == task.baseline:
                ax.add_patch(_outline(j, i))
    ax.imshow(np.ma.masked_invalid(grid), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(names)), [_t(n) for n in names], rotation=20, ha="right")
    ax.set_yticks(range(len(tasks)), [_t(t.task) for t in tasks])
    level = round(100 * results.confidence)
    ax.set_title(f"Test score % with {level}% CI (baseline outlined)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _outline(x: float, y: float) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.48, y - 0.48), 0.96, 0.96, fill=False, edgecolor="#d4a72c",
                     linewidth=2.5)


def _forest_rows(results: RunResults) -> list[tuple[str, float, float, float, float]]:
    rows = []
    for task in results.tasks:
        gain = 0.0 if math.isnan(task.min_gain) else task.min_gain
        for c in task.comparisons:
            label = f"{task.task}: {c.candidate} - {c.baseline}"
            rows.append((label, num(c.delta), num(c.ci_low), num(c.ci_high), gain))
    return rows


@with_fonts
def forest_png(results: RunResults) -> bytes | None:
    """Paired differences (candidate - baseline, points) with CIs and each task's min_gain."""
    rows = _forest_rows(results)
    if not rows:
        return None
    fig = Figure(figsize=(8.0, 0.55 * len(rows) + 1.6))
    ax = fig.add_subplot()
    for k, (_, delta, lo, hi, gain) in enumerate(rows):
        y = len(rows) - 1 - k
        ax.plot([100 * gain] * 2, [y - 0.4, y + 0.4], color=_BAD, linestyle="--",
                label="min_gain" if k == 0 else None)
        if math.isnan(delta):
            continue
        color = _GOOD if lo >= gain else _BAD if hi < gain else _NEUTRAL
        if not (math.isnan(lo) or math.isnan(hi)):
            ax.plot([100 * lo, 100 * hi], [y, y], color=color, linewidth=2)
        ax.plot([100 * delta], [y], "o", color=color)
    ax.axvline(0.0, color="#8c959f", linewidth=1)
    ax.set_yticks(range(len(rows)), [_t(r[0]) for r in reversed(rows)])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("difference on the same test examples (percentage points)")
    level = round(100 * results.confidence)
    ax.set_title(f"Paired differences with {level}% CI", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _confusion_panel(ax: Axes, labels: Sequence[str], matrix: Any, title: str) -> None:
    m = np.asarray(matrix, dtype=float)
    ax.imshow(m, cmap="Blues", vmin=0.0, vmax=max(1.0, float(m.max(initial=0.0))))
    n_rows, n_cols = m.shape
    if max(n_rows, n_cols) <= 15:
        top = float(m.max(initial=0.0))
        for i in range(n_rows):
            for j in range(n_cols):
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > top / 2 else "black")
    if len(labels) <= 40:
        ax.set_xticks(range(n_cols), [_t(x) for x in labels[:n_cols]], rotation=45,
                      ha="right", fontsize=7)
        ax.set_yticks(range(n_rows), [_t(x) for x in labels[:n_rows]], fontsize=7)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("predicted", fontsize=8)
    ax.set_ylabel("gold", fontsize=8)
    ax.set_title(_t(title), fontsize=9)


@with_fonts
def confusion_png(task: TaskResult) -> bytes | None:
    """Confusion matrices of one classification task, one panel per variant."""
    if task.family != "classification":
        return None
    panels = [v for v in task.variants
              if v.confusion is not None and v.confusion.get("matrix") and v.n > 0]
    panels = panels[:_MAX_CONFUSION_PANELS]
    if not panels:
        return None
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    n_labels = max(len((v.confusion or {}).get("labels", [])) for v in panels)
    side = min(9.0, max(3.2, 0.32 * n_labels + 1.8))
    fig = Figure(figsize=(side * cols, side * rows))
    for k, v in enumerate(panels):
        ax = fig.add_subplot(rows, cols, k + 1)
        mark = " (baseline)" if v.name == task.baseline else ""
        conf = v.confusion or {}
        _confusion_panel(ax, [str(x) for x in conf.get("labels", [])], conf["matrix"],
                         f"{v.name}{mark}")
    fig.tight_layout()
    return _png(fig)


def _series(runs: Sequence[RunResults], task: str, variant: str
            ) -> tuple[list[int], list[float], list[float], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
    los: list[float] = []
    his: list[float] = []
    for i, res in enumerate(runs):
        t = res.task(task)
        v = None if t is None else t.variant(variant)
        if v is not None and not math.isnan(num(v.score)):
            xs.append(i)
            ys.append(100 * num(v.score))
            los.append(100 * num(v.ci_low))
            his.append(100 * num(v.ci_high))
    return xs, ys, los, his


@with_fonts
def trend_png(results: RunResults, history: Sequence[RunResults]) -> bytes | None:
    """Score per task and variant across earlier runs of the same config and this one."""
    if not history:
        return None
    runs = [*history, results]
    tasks = [t for t in results.tasks if t.variants]
    if not tasks:
        return None
    fig = Figure(figsize=(8.0, 2.8 * len(tasks) + 0.6))
    ticks = [(r.created or r.run_id)[:16].replace("T", " ") for r in runs]
    for k, task in enumerate(tasks):
        ax = fig.add_subplot(len(tasks), 1, k + 1)
        for v in task.variants:
            xs, ys, los, his = _series(runs, task.task, v.name)
            line = ax.plot(xs, ys, marker="o", label=_t(v.name))[0]
            ok = [j for j, (lo, hi) in enumerate(zip(los, his, strict=True))
                  if not (math.isnan(lo) or math.isnan(hi))]
            if ok:
                ax.fill_between([xs[j] for j in ok], [los[j] for j in ok],
                                [his[j] for j in ok], color=line.get_color(), alpha=0.15)
        ax.set_xticks(range(len(runs)), ticks, rotation=20, ha="right", fontsize=7)
        ax.set_ylabel("test score %")
        ax.set_title(_t(f"{task.task}: {len(runs)} runs of this config"), fontsize=10)
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _economics_numbers(econ: EconomicsResult) -> tuple[float, float, float, float, int]:
    base, cand = num(econ.baseline_monthly_cost_usd), num(econ.candidate_monthly_cost_usd)
    one_off, maint = num(econ.one_off_cost_usd), num(econ.maintenance_per_month_usd)
    horizon = econ.horizon_months
    horizon_i = horizon if horizon >= 1 else 12
    return base, cand, one_off, 0.0 if math.isnan(maint) else maint, horizon_i


def payback_months(econ: EconomicsResult) -> float:
    """Payback in months; inf when it never pays back (JSON's null), NaN when unknown."""
    if econ.never_pays_back or econ.payback_months is None:
        return math.inf  # JSON has no infinity: null payback means "never"
    return num(econ.payback_months)


@with_fonts
def economics_png(task: TaskResult) -> bytes | None:
    """Cumulative cost of the baseline and the fine-tune over the horizon, payback marked."""
    econ = task.economics
    if econ is None:
        return None
    base, cand, one_off, maint, horizon = _economics_numbers(econ)
    if any(math.isnan(x) for x in (base, cand, one_off)):
        return None
    payback = payback_months(econ)
    months = horizon
    if math.isfinite(payback) and horizon < payback <= 3 * horizon:
        months = math.ceil(payback) + 1
    m = np.arange(months + 1, dtype=float)
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.add_subplot()
    ax.plot(m, base * m, label="prompting baseline", color=_NEUTRAL)
    ax.plot(m, one_off + (cand + maint) * m, label="fine-tune (one-off + running)",
            color="#0969da")
    if math.isfinite(payback) and payback <= months:
        ax.axvline(payback, color=_GOOD, linestyle="--")
        ax.plot([payback], [base * payback], "o", color=_GOOD)
        ax.annotate(f"pays back in {payback:.1f} months", (payback, base * payback),
                    textcoords="offset points", xytext=(8, -14), fontsize=9, color=_GOOD)
    else:
        why = ("payback unknown" if math.isnan(payback) else "never pays back"
               if math.isinf(payback) else f"pays back only after {payback:.1f} months")
        ax.text(0.02, 0.95, why, transform=ax.transAxes, va="top", fontsize=9, color=_BAD)
    if horizon < months:
        ax.axvline(horizon, color="#8c959f", linewidth=1, linestyle=":")
    ax.set_xlabel("months")
    ax.set_ylabel("cumulative cost (USD)")
    ax.set_title(_t(f"{task.task}: cost over {horizon} months"), fontsize=10)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def make_plots(results: RunResults, history: Sequence[RunResults] = ()) -> list[Plot]:
    """Every figure the report shows, in page order; absent ones are left out.

    Args:
        results: This run's results.
        history: Results of earlier runs of the same config, oldest first.
    """
    plots: list[Plot] = []
    for name, title, png in (
            ("matrix", "Task x variant: test score with confidence interval",
             matrix_png(results)),
            ("forest", "Paired differences (candidate - baseline) and min_gain",
             forest_png(results)),
            ("trend", "Trend across runs of this config", trend_png(results, history))):
        if png is not None:
            plots.append(Plot(name, title, png))
    for i, task in enumerate(results.tasks):
        slug = f"{i}-{_slug(task.task)}"
        econ = economics_png(task)
        if econ is not None:
            plots.append(Plot(f"economics-{slug}", "Cumulative cost and payback", econ,
                              task.task))
        conf = confusion_png(task)
        if conf is not None:
            plots.append(Plot(f"confusion-{slug}", "Confusion matrices (test)", conf,
                              task.task))
        for kind, title, png in (
                ("fields", "Field-level accuracy (format)", fields_png(task)),
                ("tone", "Style vs content preservation (tone)", tone_png(task))):
            if png is not None:
                plots.append(Plot(f"{kind}-{slug}", title, png, task.task))
    return plots


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)[:40] or "task"
