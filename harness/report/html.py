"""``index.html``: one self-contained page a person reads to make the decision.

CSS, JavaScript and the PNG figures are inlined (images as base64 data
URIs), so the file opens from disk with no server and makes no network
request; a Content-Security-Policy forbids any fetch and any script other
than the page's own. It opens with the overall verdict and each task's
one-sentence reason. Every string from a run (names, labels, inputs,
outputs, reasons) is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources

from harness.analysis.model import RunResults, TaskResult
from harness.fmt import interval as _ci
from harness.fmt import number, pct, pp
from harness.fmt import p_value as _p
from harness.report.families import html_section as family_html
from harness.report.plots import Plot
from harness.report.rag import html_block as rag_html
from harness.report.search import html_block as search_html
from harness.report.sidebyside import TaskExamples, render_examples

__all__ = ["MAX_BYTES", "render_html", "verdict_of"]

MAX_BYTES = 10_000_000
_RESERVE = 1_000_000  # page chrome, tables and headroom under MAX_BYTES
_NO_VERDICT = "no verdict: "


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _asset(name: str) -> str:
    return (resources.files("harness.report") / "assets" / name).read_text(encoding="utf-8")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _level(results: RunResults) -> str:
    conf = results.confidence
    return f"{round(100 * (0.95 if math.isnan(conf) else conf))}% CI"


def _no_verdict_reason(task: TaskResult) -> str:
    if not task.variants:
        return "no verdict: no records for this task"
    comps = task.comparisons
    if not comps:
        return "no verdict: only one variant, so no comparison is possible"
    parts = [f"{c.candidate} vs {c.baseline} {pp(c.delta)} points "
             f"(CI {_ci(c.ci_low, c.ci_high, pp)}, n={c.n})"
             for c in comps]
    why = f"{task.decision_note}; " if task.decision_note else ""
    return f"no verdict: {why}paired differences: " + "; ".join(parts)


def verdict_of(entry: RunResults | TaskResult) -> tuple[str | None, str]:
    """The (label, reason) of a task or of the whole run; label None when absent.

    Without a ``verdict`` the reason says why none is shown, from the comparisons.
    """
    v = entry.verdict
    if v is not None:
        return str(v.label), v.reason
    if isinstance(entry, TaskResult):
        return None, _no_verdict_reason(entry)
    tasks = entry.tasks
    if not any(t.comparisons for t in tasks):
        return None, "no verdict: no task has two variants to compare"
    notes = list(dict.fromkeys(t.decision_note for t in tasks if t.decision_note))
    return None, "no verdict: " + ("; ".join(notes) if notes else
                                   "these results carry none; the paired differences are below")


def _verdict_class(label: str | None) -> str:
    if label is None:
        return "v-none"
    for prefix, css in (("FINE-TUNE JUSTIFIED", "v-good"), ("NOT JUSTIFIED", "v-bad"),
                        ("USE RAG", "v-rag"), ("INCONCLUSIVE", "v-wait")):
        if label.startswith(prefix):
            return css
    return "v-none"


def _headline(results: RunResults) -> tuple[str | None, str]:
    """The run's headline (``MIXED: ...`` when tasks disagree) and the gate's line."""
    label, _ = verdict_of(results)
    v = results.verdict
    if label is None or v is None:
        return label, ""
    return v.headline or label, v.gate


def _verdict_box(results: RunResults) -> str:
    label, reason = verdict_of(results)
    head, gate = _headline(results)
    css = "v-mixed" if head and head.startswith("MIXED") else _verdict_class(label)
    gate_line = f'<p class="gate">{_e(gate[:1].upper() + gate[1:])}.</p>' if gate else ""
    items = []
    for task in results.tasks:
        t_label, t_reason = verdict_of(task)
        pill = f'<span class="pill">{_e(t_label)}</span> ' if t_label else ""
        items.append(f'<li><b>{_e(task.task)}</b>: {pill}{_e(t_reason)}</li>')
    return (f'<section class="verdict {css}" id="verdict">'
            f'<div class="label">{_e(head) if head else "No verdict"}</div>{gate_line}'
            f'<p class="reason">{_e(_unprefixed(reason))}</p>'
            f'<ul>{"".join(items)}</ul></section>')


def _unprefixed(reason: str) -> str:
    """A no-verdict reason without its prefix, for where "No verdict" is the heading."""
    text = reason.removeprefix(_NO_VERDICT)
    return text[:1].upper() + text[1:]


def _failed_total(results: RunResults) -> int:
    return sum(v.errors for t in results.tasks for v in t.variants)


def _warnings(results: RunResults) -> str:
    out = []
    failed = _failed_total(results)
    if failed:
        out.append(f"{failed} example{'' if failed == 1 else 's'} failed after retries. "
                   "They are counted in the "
                   "'failed' column, left out of the scores, and marked 'failed' in the "
                   "side-by-side tables; run the same command again to retry them.")
    status = results.status
    if status != "done":
        out.append(f"Run status: {status}. Results cover the examples finished so far.")
    return "".join(f'<p class="warn">{_e(w)}</p>' for w in out)


def _png_size(png: bytes) -> tuple[int, int] | None:
    if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 24:
        return None
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _figure(plot: Plot) -> str:
    data = base64.b64encode(plot.png).decode("ascii")
    size = _png_size(plot.png)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return (f'<figure id="fig-{_e(plot.name)}"><img alt="{_e(plot.title)}"{dims} '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(plot.title)}</figcaption>'
            "</figure>")


def _variants_table(task: TaskResult, level: str) -> str:
    rows = []
    for v in task.variants:
        mark = " (baseline)" if v.name == task.baseline else ""
        failed = v.errors
        rows.append(
            f"<tr><td>{_e(v.name)}{mark}</td><td>{_e(v.kind)}</td>"
            f'<td class="num">{pct(v.score)}</td>'
            f"<td>{_ci(v.ci_low, v.ci_high)}</td>"
            f'<td class="num">{_e(v.n)}</td>'
            f'<td class="num{" failed" if failed else ""}">{failed}</td>'
            f'<td class="num">{pct(v.dev_score)}</td>'
            f'<td class="num">{pct(v.metrics.get("macro_f1"))}</td>'
            f'<td class="num">{pct(v.metrics.get("invalid_rate"))}</td>'
            f'<td class="num">{number(v.prompt_tokens_mean, ".0f")}</td></tr>')
    return ("<table><thead><tr><th>variant</th><th>kind</th>"
            f"<th>test {_e(task.metric)} %</th><th>{level}</th><th>n</th>"
            "<th>failed</th><th>dev %</th><th>macro-F1 %</th><th>invalid %</th>"
            f"<th>prompt tokens</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _comparisons_table(task: TaskResult, level: str) -> str:
    comps = task.comparisons
    if not comps:
        return ('<p class="note">No comparison is possible: this task has only one '
                "variant in this run.</p>" if task.variants else "")
    rows = "".join(
        f"<tr><td>{_e(c.candidate)}</td><td>{_e(c.baseline)}</td>"
        f'<td class="num">{pp(c.delta)}</td>'
        f"<td>{_ci(c.ci_low, c.ci_high, pp)}</td>"
        f'<td class="num">{_p(c.p_value)}</td><td class="num">{_p(c.p_holm)}</td>'
        f'<td class="num">{_e(c.n)}</td>'
        f"<td>{_e(c.wins)} / {_e(c.losses)} / {_e(c.ties)}</td>"
        f"<td>{_e(c.note)}</td></tr>" for c in comps)
    return (f"<p>Paired differences on the same test examples (candidate - baseline, "
            f"percentage points, {level}; p-values raw and Holm-adjusted across tasks):</p>"
            "<table><thead><tr><th>candidate</th><th>baseline</th><th>delta</th><th>CI</th>"
            "<th>p</th><th>p (Holm)</th><th>n</th><th>wins / losses / ties</th><th>note</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>")


def _economics_table(task: TaskResult) -> str:
    econ = task.economics
    if econ is None:
        note = task.economics_note
        return f'<p class="note">Note: {_e(note)}.</p>' if note else ""
    flat: list[tuple[str, object]] = []
    for key in type(econ).model_fields:  # every field of the break-even, in its order
        value = getattr(econ, key)
        if isinstance(value, Mapping):
            flat += [(f"{key} ({sub})", v) for sub, v in value.items()
                     if not isinstance(v, Mapping | list)]
        elif not isinstance(value, list):
            flat.append((str(key), value))
    rows = "".join(f'<tr><td>{_e(key)}</td><td class="num">{_e(_money(key, value))}</td></tr>'
                   for key, value in flat)
    return f"<h3>Economics</h3><table><tbody>{rows}</tbody></table>"


def _money(key: str, value: object) -> object:
    if value is None and key == "payback_months":
        return "never"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "never" if key == "payback_months" else str(value)
        return f"${value:,.2f}" if "_usd" in key else f"{value:,.2f}"
    return value


def _task_section(task: TaskResult, plots: Sequence[Plot],
                  examples: TaskExamples | None, level: str, budget: int) -> str:
    name = task.task
    label, reason = verdict_of(task)
    parts = [f'<section class="task" id="task-{_e(name)}"><h2>{_e(name)} '
             f'<span class="meta">({_e(task.family)}, metric: '
             f"{_e(task.metric)})</span></h2>",
             f'<p class="verdict-line {_verdict_class(label)}"><b>'
             f'{_e(label or "No verdict")}</b>: {_e(_unprefixed(reason))}</p>']
    if task.baseline:
        parts.append(f"<p>Baseline: <b>{_e(task.baseline)}</b>, chosen on dev: "
                     f"{_e(task.baseline_reason)}.</p>")
    parts.append(search_html(task))
    if task.variants:
        parts.append(_variants_table(task, level))
        parts.append(family_html(task))
    parts.append(_comparisons_table(task, level))
    parts.append(rag_html(task))
    if task.note:
        parts.append(f'<p class="note">Note: {_e(task.note)}.</p>')
    parts.append(_economics_table(task))
    parts += [_figure(p) for p in plots if p.task == name]
    parts.append(f"<h3>Test examples side by side</h3>{render_examples(task, examples, budget)}")
    return "".join(parts) + "</section>"


def _head(results: RunResults, css: str, js: str) -> str:
    label, _ = _headline(results)
    csp = (f"default-src 'none'; img-src data:; style-src 'sha256-{_sha256(css)}'; "
           f"script-src 'sha256-{_sha256(js)}'; base-uri 'none'; form-action 'none'")
    title = f"tunegate report {results.run_id}: {label or 'no verdict'}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(csp, quote=False)}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{css}</style></head>")


def render_html(results: RunResults, plots: Sequence[Plot],
                examples: Mapping[str, TaskExamples], max_bytes: int = MAX_BYTES) -> str:
    """The whole ``index.html`` of a run.

    Args:
        results: The run's results.
        plots: Figures from :func:`harness.report.plots.make_plots`.
        examples: Side-by-side rows per task name.
        max_bytes: Size the page stays under; side-by-side rows are capped to fit.
    """
    css, js = _asset("report.css"), _asset("report.js")
    level = _level(results)
    tasks = results.tasks
    images = sum(4 * (len(p.png) + 2) // 3 for p in plots)
    budget = max(0, (max_bytes - _RESERVE - images) // max(1, len(tasks)))
    overview = [_figure(p) for p in plots if p.task is None]
    if not any(p.name == "trend" for p in plots):
        overview.append('<p class="note">No earlier runs of this config in the store: '
                        "no trend yet.</p>")
    body = [
        f"<body><header><h1>tunegate report: run {_e(results.run_id)}</h1>"
        f'<p class="meta">Created {_e(results.created)} from '
        f"<code>{_e(results.config_path)}</code> (config digest "
        f"<code>{_e(results.config_digest)}</code>, seed {_e(results.seed)}, "
        f"status {_e(results.status)}, {_e(results.model_calls)} model calls)."
        "</p></header>",
        _verdict_box(results), _warnings(results),
        '<section id="overview"><h2>Overview</h2>', *overview, "</section>",
        *(_task_section(t, plots, examples.get(t.task), level, budget)
          for t in tasks),
        '<footer class="note"><p>Generated by tunegate from the store alone (no model '
        "calls). Self-contained: no file or network access is needed to read it.</p>"
        f"</footer><script>{js}</script></body></html>\n"]
    return _head(results, css, js) + "".join(body)
