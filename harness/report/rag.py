"""Report blocks for retrieval: each rag variant's recall@k/MRR and the task's diagnosis.

Shown next to answer quality so a reader can tell a retrieval failure (the
gold passage was not retrieved) from a generation failure (it was, and the
answer is still wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from harness.analysis.model import TaskResult
from harness.fmt import number


def _fixed3(x: object) -> str:
    return number(x, ".3f")


HEADERS = ("variant", "retriever", "k", "recall@k", "MRR", "answer score", "no passage")


def _empty(r: Mapping[str, Any]) -> str:
    """``N of M`` queries that retrieved nothing (``n/a`` for results without the count)."""
    n, of = r.get("no_passage"), r.get("n_queries")
    return "n/a" if not isinstance(n, int) else f"{n} of {of}"


def _rows(task: TaskResult) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for v in task.variants:
        r = v.retrieval
        if r is not None:
            rows.append((v.name, str(r.get("retriever")), str(r.get("k")),
                         _fixed3(r.get("recall_at_k")), _fixed3(r.get("mrr")),
                         _fixed3(v.score), _empty(r)))
    return rows


def no_passage_notes(task: TaskResult) -> list[str]:
    """One sentence per rag variant whose queries retrieved no passage, saying how many."""
    notes = []
    for v in task.variants:
        r = v.retrieval
        if r is not None and r.get("no_passage"):
            notes.append(f"{v.name}: {r['no_passage']} of {r.get('n_queries')} test queries "
                         "retrieved no passage (they share no term with the collection), so "
                         "their prompts had no passages.")
    return notes


def markdown_lines(task: TaskResult) -> list[str]:
    """Markdown: the retrieval table and the diagnosis (empty when neither applies)."""
    out: list[str] = []
    rows = _rows(task)
    if rows:
        out += ["Retrieval (gold passage ids; recall@k and MRR over test examples):", "",
                f"| {' | '.join(HEADERS)} |", "|---|---|---:|---:|---:|---:|---:|"]
        out += [f"| {' | '.join(r)} |" for r in rows] + [""]
        out += [f"**Warning:** {n}" for n in no_passage_notes(task)]
        out += [""] if no_passage_notes(task) else []
    d = task.diagnosis
    if d is not None:
        out += [f"Diagnosis: **{d.label}**: {d.reason}", ""]
    return out


def html_block(task: TaskResult) -> str:
    """HTML: the same, escaped."""
    parts = []
    rows = _rows(task)
    if rows:
        head = "".join(f"<th>{h}</th>" for h in HEADERS)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>"
                       for r in rows)
        parts.append(f"<h3>Retrieval</h3><table class=\"retrieval\"><tr>{head}</tr>"
                     f"{body}</table>")
        parts += [f'<p class="warn">{escape(n)}</p>' for n in no_passage_notes(task)]
    d = task.diagnosis
    if d is not None:
        parts.append(f'<p class="diagnosis"><b>Diagnosis: {escape(d.label)}</b>: '
                     f'{escape(d.reason)}</p>')
    return "".join(parts)
