"""Family-specific figures: field accuracy for format, style vs content for tone.

Both read only a task's typed results (:class:`~harness.analysis.model.TaskResult`), like
every other figure.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from harness.analysis.model import TaskResult  # noqa: E402
from harness.fmt import num  # noqa: E402
from harness.report.figure import png as _png  # noqa: E402
from harness.report.fonts import with_fonts  # noqa: E402


@with_fonts
def fields_png(task: TaskResult) -> bytes | None:
    """Format tasks: each gold field's accuracy per variant, with intervals."""
    variants = [v for v in task.variants if v.fields]
    if task.family != "format" or not variants:
        return None
    keys = sorted({k for v in variants for k in v.fields or {}})
    height = 0.8 / len(variants)
    fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.42 * len(keys) * max(1, len(variants) / 2)))
    for j, v in enumerate(variants):
        ys, xs, lo, hi = [], [], [], []
        for i, key in enumerate(keys):
            f = (v.fields or {}).get(key)
            if f is None or math.isnan(num(f.get("accuracy"))):
                continue
            acc = num(f["accuracy"])
            ys.append(i + (j - (len(variants) - 1) / 2) * height)
            xs.append(100 * acc)
            lo.append(100 * max(0.0, acc - num(f["ci_low"])))
            hi.append(100 * max(0.0, num(f["ci_high"]) - acc))
        ax.barh(ys, xs, height=height, xerr=[lo, hi], capsize=2, label=v.name,
                error_kw={"elinewidth": 0.8})
    ax.set_yticks(range(len(keys)), keys, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("field right (% of test examples, 95% CI)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return _png(fig)


@with_fonts
def tone_png(task: TaskResult) -> bytes | None:
    """Tone tasks: style accuracy vs content preservation (similarity to the source)."""
    if task.family != "tone":
        return None
    points = []
    for v in task.variants:
        style, sim = v.scorers.get("style_accuracy"), v.scorers.get("similarity_source")
        if style is None or sim is None or math.isnan(num(style.mean)) \
                or math.isnan(num(sim.mean)):
            continue
        points.append((v.name, style, sim))
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for name, style, sim in points:
        x, y = 100 * num(sim.mean), 100 * num(style.mean)
        ax.errorbar(x, y, xerr=[[x - 100 * num(sim.ci_low)], [100 * num(sim.ci_high) - x]],
                    yerr=[[y - 100 * num(style.ci_low)], [100 * num(style.ci_high) - y]],
                    fmt="o", capsize=3, label=name)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 105)
    ax.set_xlabel("content preserved: similarity to the source (%)")
    ax.set_ylabel("in the house style (% of outputs)")
    ax.set_title("Top right is best: the right style without losing the content", fontsize=9)
    fig.tight_layout()
    return _png(fig)
