"""Family-specific report tables: per-label P/R, per-scorer means, family facts.

Classification tasks get per-label precision and recall for every variant.
Format, tone and terminology tasks get every scorer's test mean (with its
interval) per variant, their unparseable counts and what the scorers say
about themselves: the parse modes, the style classifier's own held-out
accuracy, the fluency proxy, invalid judge answers. Markdown and HTML
render the same rows; every string from a run is escaped in HTML.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from harness.analysis.model import ScorerSummary, TaskResult, VariantResult
from harness.fmt import interval, num, pct


def _scorer_cell(s: ScorerSummary | None) -> str:
    if s is None:
        return "n/a"
    text = pct(s.mean)
    if not math.isnan(num(s.ci_low)) and not math.isnan(num(s.ci_high)):
        text += f" {interval(s.ci_low, s.ci_high)}"
    if s.unscored:
        text += f" ({s.unscored} unscored)"
    return text


def _scorer_names(variants: Sequence[VariantResult]) -> list[str]:
    names: list[str] = []
    for v in variants:
        names += [n for n in v.scorers if n not in names]
    return names


def rows(task: TaskResult) -> tuple[str, list[str], list[list[str]], list[str]]:
    """A title, header, body rows and notes for the task's family table."""
    variants = task.variants
    if task.family == "classification":
        labels = [str(lab) for lab in (variants[0].per_label or {})] if variants else []
        head = ["label", *[f"{v.name} P / R %" for v in variants]]
        body = []
        for lab in labels:
            cells = []
            for v in variants:
                pl = (v.per_label or {}).get(lab, {})
                cells.append(f"{pct(pl.get('precision'))} / {pct(pl.get('recall'))}")
            body.append([lab, *cells])
        return "Per-label precision / recall (test)", head, body, []
    names = _scorer_names(variants)
    head = ["variant", *[f"{n} %" for n in names], "unparseable"]
    body = [[v.name, *[_scorer_cell(v.scorers.get(n)) for n in names],
             "n/a" if v.unparseable is None else str(v.unparseable)] for v in variants]
    return "Every scorer (test mean, interval)", head, body, _notes(variants)


def _notes(variants: Sequence[VariantResult]) -> list[str]:
    notes = []
    for v in variants:
        parse = v.parse
        if parse is not None:
            notes.append(f"{v.name}: parsed as is {parse.get('strict', 0)}, "
                         f"extracted from text {parse.get('extracted', 0)}, "
                         f"unparseable {parse.get('failed', 0)}")
        judge = v.judge
        if judge is not None:
            mean = num(judge.get("mean_rating"))
            rating = "no valid rating" if math.isnan(mean) else f"mean rating {mean:.2f}"
            notes.append(f"{v.name}: judge asked {judge.get('asked')}, invalid answers "
                         f"{judge.get('invalid')}, {rating}")
    if not variants:
        return notes
    first = variants[0]
    clf = first.style_classifier
    if clf is not None:
        notes.append(f"style classifier ({clf.get('kind')}) held-out accuracy "
                     f"{pct(clf.get('heldout_accuracy'))}% on {clf.get('n_heldout')} examples "
                     f"(trained on {clf.get('n_train')}): trust style scores that far")
    if first.fluency_proxy:
        notes.append(f"fluency proxy: {first.fluency_proxy}")
    return notes


def markdown_lines(task: TaskResult) -> list[str]:
    """The family table as Markdown lines (empty when there are no variants)."""
    if not task.variants:
        return []
    title, head, body, notes = rows(task)
    if not body:
        return []
    out = [f"{title}:", "", "| " + " | ".join(head) + " |",
           "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return [*out, "", *[f"- {n}" for n in notes], *([""] if notes else [])]


def html_section(task: TaskResult) -> str:
    """The family table as an HTML ``<details>`` block (escaped)."""
    if not task.variants:
        return ""
    title, head, body, notes = rows(task)
    if not body:
        return ""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in body)
    lis = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return (f"<details><summary>{escape(title)}</summary><table><thead><tr>{th}</tr></thead>"
            f"<tbody>{trs}</tbody></table>{f'<ul>{lis}</ul>' if lis else ''}</details>")
