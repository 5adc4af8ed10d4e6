"""The side-by-side view: each test example with every variant's output and score.

Rows come from the store's records (test split). With several samples per
example the output shown is sample 0's and the score is the mean over the
example's samples (:func:`harness.analysis.metric.example_means`), the
number the report averages. Inputs and references are the records' own
(nothing is read from the task files, which may have changed since); a run
stored by store schema version 1 kept no inputs, so the example id stands in
for them, with a note saying so. Every input, reference, output and explanation is
HTML-escaped. Large runs are capped by a byte budget, keeping rows with
disagreements or invalid outputs first, with a note saying so.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any

from harness.analysis.metric import example_means
from harness.analysis.model import TaskResult
from harness.answers import strict_object
from harness.scoring.fields import compare, pointer, recorded_normalize
from harness.store import Record, RunRow
from harness.taskspec import Normalize

__all__ = ["Cell", "Row", "TaskExamples", "collect_examples", "field_diff", "render_examples"]

_MAX_INPUT_CHARS = 1200
_MAX_OUTPUT_CHARS = 600
_MAX_PASSAGE_CHARS = 200
_MAX_PASSAGES = 5
_PAGE_ROWS = 100
# Flags a row can carry; the filter buttons select rows by these class names.
DISAGREE, CAND_WINS, BASE_WINS, INVALID = "f-dis", "f-cand", "f-base", "f-inv"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


@dataclass(frozen=True)
class Cell:
    """One variant's answer to one example.

    Attributes:
        text: The raw output text.
        prediction: The parsed answer (a label), or None when invalid.
        score: The primary score, or None when unscored or failed.
        invalid: The output could not be parsed into a valid answer.
        error: Why the example failed (no output), or None.
        explanation: The scorer's one-line explanation.
        passages: Retrieved passages shown to a RAG variant.
        samples: How many scored samples ``score`` is the mean of.
        fields: For a JSON answer with a JSON reference, ``(key, value, status)``
            per flattened field, status ``ok``, ``bad`` (wrong value), ``extra``
            (not in the reference) or ``miss`` (value: the reference's): the
            diff highlighting of format outputs.
    """

    text: str = ""
    prediction: str | None = None
    score: float | None = None
    invalid: bool = False
    error: str | None = None
    explanation: str = ""
    passages: tuple[str, ...] = ()
    fields: tuple[tuple[str, str, str], ...] = ()
    samples: int = 1


def field_diff(prediction: Any, reference: str, how: Normalize | None = None
               ) -> tuple[tuple[str, str, str], ...]:
    """Field-by-field diff of a JSON answer against a JSON reference (empty otherwise).

    The fields and their statuses are the scorers' (:func:`harness.scoring.fields.compare`
    with the task's normalisation ``how``): ``(JSON Pointer, value, status)``,
    the value the output's (a wrong one followed by the reference's), or the
    reference's for a missing field.
    """
    got, want = strict_object(prediction), strict_object(reference)
    if got is None or want is None:
        return ()
    rows = []
    for d in compare(want, got, how or Normalize()).diffs:
        value = {"ok": d.pred, "extra": d.pred, "miss": d.gold,
                 "bad": f"{d.pred} (reference {d.gold})"}[d.status]
        rows.append((pointer(d.path), str(value), d.status))
    return tuple(rows)


@dataclass
class Row:
    """One test example across variants."""

    example_id: str
    input: str | None
    """The example's input as recorded; None while unknown (a version-1 record)."""
    reference: str
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class TaskExamples:
    """The side-by-side rows of one task, and a note when inputs are unknown."""

    task: str
    rows: list[Row]
    input_note: str = ""


def _primary(scores: Mapping[str, Any], first: str = "label_accuracy"
             ) -> Mapping[str, Any] | None:
    for key in (first, "label_accuracy", *sorted(scores)):
        value = scores.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def _passage(p: object) -> str:
    """A retrieved passage as shown: ``[passage id] text`` (the id when recorded)."""
    if not isinstance(p, Mapping):
        return str(p)
    pid = p.get("passage_id") or p.get("id")
    return (f"[{pid}] " if pid else "") + str(p.get("text", ""))


def _cell(rec: Record, primary_name: str = "label_accuracy", how: Normalize | None = None
          ) -> Cell:
    if rec.error is not None:
        return Cell(error=rec.error)
    out, primary = rec.output, _primary(rec.scores, primary_name)
    raw = None if primary is None else primary.get("value")
    score = float(raw) if isinstance(raw, int | float) and not math.isnan(raw) else None
    detail = primary.get("detail", {}) if primary is not None else {}
    invalid = bool(detail.get("invalid")) if isinstance(detail, Mapping) else False
    if "prediction" in out and out.get("prediction") is None:
        invalid = True
    detail_out = out.get("detail")
    passages = detail_out.get("passages") if isinstance(detail_out, Mapping) else None
    texts = tuple(_passage(p) for p in passages) if isinstance(passages, list) else ()
    pred = out.get("prediction")
    if pred is not None and not isinstance(pred, str):  # e.g. a parsed JSON object
        pred = json.dumps(pred, sort_keys=True, ensure_ascii=False)
    return Cell(text=str(out.get("text", "")), prediction=pred, score=score, invalid=invalid,
                explanation=str(primary.get("explanation", "")) if primary else "",
                passages=texts, fields=field_diff(out.get("prediction"), rec.target, how))


def _input_note(unknown: int, total: int) -> str:
    """Say so when records keep no input (written by store schema version 1)."""
    if not unknown:
        return ""
    which = "its" if unknown == total else f"{unknown} of its {total}"
    return (f"The input of {which} examples is unknown: the run was stored by store schema "
            "version 1, which kept no inputs; the example id stands in for it.")


def _natural(key: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def collect_examples(run: RunRow, records: Iterable[Record]) -> dict[str, TaskExamples]:
    """Side-by-side rows per task from a run's test records (no model is called).

    Variant names follow ``results.json``: ``variant@model`` when the run
    has more than one model, else the variant's name.
    """
    multi = len(run.config.get("models", [])) > 1
    primary = {str(t.get("name")): str(t.get("primary") or "label_accuracy")
               for t in run.config.get("tasks", [])}
    norms = {str(t.get("name")): recorded_normalize(t) for t in run.config.get("tasks", [])}
    rows: dict[str, dict[str, Row]] = {}
    samples: dict[tuple[str, str], tuple[list[str], list[float]]] = {}
    for rec in records:
        if rec.split != "test":
            continue
        name = f"{rec.variant}@{rec.model}" if multi else rec.variant
        cell = _cell(rec, primary.get(rec.task, "label_accuracy"), norms.get(rec.task))
        ids, scores = samples.setdefault((rec.task, name), ([], []))
        ids.append(rec.example_id)
        scores.append(math.nan if cell.score is None else cell.score)
        if rec.sample == 0:
            task_rows = rows.setdefault(rec.task, {})
            row = task_rows.setdefault(rec.example_id, Row(rec.example_id, None, rec.target))
            row.input = rec.input if row.input is None else row.input
            row.cells[name] = cell
    _mean_of_samples(rows, samples)
    out: dict[str, TaskExamples] = {}
    for entry in run.config.get("tasks", []):
        name = str(entry.get("name"))
        by_id = rows.get(name, {})
        unknown = sum(1 for row in by_id.values() if row.input is None)
        for row in by_id.values():
            row.input = row.example_id if row.input is None else row.input
        ordered = sorted(by_id.values(), key=lambda r: _natural(r.example_id))
        out[name] = TaskExamples(name, ordered, _input_note(unknown, len(by_id)))
    return out


def _mean_of_samples(rows: Mapping[str, Mapping[str, Row]],
                     samples: Mapping[tuple[str, str], tuple[list[str], list[float]]]) -> None:
    """Replace each shown cell's score by the mean over its example's samples."""
    for (task, name), (ids, scores) in samples.items():
        if len(set(ids)) == len(ids):
            continue  # one sample per example: the shown score is the example's
        for ex_id, (mean, k) in example_means(ids, scores).items():
            row = rows.get(task, {}).get(ex_id)
            if row is not None and name in row.cells:
                row.cells[name] = replace(row.cells[name], score=mean, samples=k)


def _flags(row: Row, baseline: str | None, candidates: Sequence[str]) -> list[str]:
    cells = row.cells.values()
    flags = []
    answers = {c.prediction if c.prediction is not None else c.text
               for c in cells if c.error is None}
    scores = {c.score for c in cells if c.score is not None}
    if len(answers) > 1 or len(scores) > 1:
        flags.append(DISAGREE)
    base = row.cells.get(baseline or "")
    if base is not None and base.score is not None:
        cand = [row.cells[c].score for c in candidates if c in row.cells]
        if any(s is not None and s > base.score for s in cand):
            flags.append(CAND_WINS)
        if any(s is not None and s < base.score for s in cand):
            flags.append(BASE_WINS)
    if any(c.invalid or c.error is not None for c in cells):
        flags.append(INVALID)
    return flags


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return _e(text)
    return f'{_e(text[:limit])}<span class="more">… [+{len(text) - limit} chars]</span>'


def _cell_html(cell: Cell | None) -> str:
    if cell is None:
        return '<td class="na">not run</td>'
    if cell.error is not None:
        return f'<td class="err"><b>failed</b>: {_clip(cell.error, 200)}</td>'
    score = "n/a" if cell.score is None else f"{cell.score:g}" + (
        f" (mean of {cell.samples} samples)" if cell.samples > 1 else "")
    css = "inv" if cell.invalid else "ok" if cell.score == 1.0 else \
        "bad" if cell.score == 0.0 else "mid"
    tag = ' <span class="tag">invalid</span>' if cell.invalid else ""
    extra = ""
    if cell.passages:
        items = "".join(f"<li>{_clip(p, _MAX_PASSAGE_CHARS)}</li>"
                        for p in cell.passages[:_MAX_PASSAGES])
        extra = f"<details><summary>retrieved</summary><ol>{items}</ol></details>"
    if (cell.prediction is not None and not cell.fields
            and cell.prediction.strip() != cell.text.strip()):
        # A generated answer parsed into something else (extracted JSON, a first line).
        extra = (f'<div class="parsed">parsed: <code>'
                 f"{_clip(cell.prediction, _MAX_OUTPUT_CHARS)}</code></div>{extra}")
    why = f' <span class="why">{_clip(cell.explanation, 160)}</span>' \
        if cell.explanation and cell.score != 1.0 else ""
    body = f"<pre>{_clip(cell.text, _MAX_OUTPUT_CHARS)}</pre>"
    if cell.fields:
        items = "".join(f'<li class="d-{status}">{_e(key)}: {_clip(value, 120)}</li>'
                        for key, value, status in cell.fields)
        body = (f'<ul class="diff" title="fields vs the reference: green right, red wrong, '
                f'amber extra, struck missing">{items}</ul>'
                f"<details><summary>raw</summary>{body}</details>")
    return (f'<td class="{css}">{body}'
            f'<span class="score" title="{_e(cell.explanation)}">score {score}</span>'
            f"{tag}{why}{extra}</td>")


def _row_html(row: Row, variants: Sequence[str], flags: Sequence[str]) -> str:
    cells = "".join(_cell_html(row.cells.get(v)) for v in variants)
    return (f'<tr class="{" ".join(flags)}"><td class="id">{_e(row.example_id)}</td>'
            f"<td><pre>{_clip(row.input or row.example_id, _MAX_INPUT_CHARS)}</pre></td>"
            f"<td><pre>{_clip(row.reference, _MAX_OUTPUT_CHARS)}</pre></td>{cells}</tr>")


def _select(rendered: list[tuple[str, list[str]]], budget: int) -> list[int]:
    """Indices of rows to keep within ``budget`` UTF-8 bytes, flagged rows first."""
    sizes = [len(h.encode("utf-8")) for h, _ in rendered]
    if sum(sizes) <= budget:
        return list(range(len(rendered)))
    order = sorted(range(len(rendered)), key=lambda i: (
        INVALID not in rendered[i][1], DISAGREE not in rendered[i][1], i))
    kept, used = [], 0
    for i in order:
        if used + sizes[i] > budget:
            break
        kept.append(i)
        used += sizes[i]
    return sorted(kept)


def _buttons(counts: Mapping[str, int], lora: bool) -> str:
    wins = "lora wins" if lora else "candidate wins"
    specs = [("all", "all", "every test example"),
             (DISAGREE, "disagreements", "variants give different answers or scores"),
             (CAND_WINS, wins, "a candidate scores higher than the baseline"
              + ("" if lora else " (no lora variant in this run: any non-baseline variant)")),
             (BASE_WINS, "baseline wins", "the baseline scores higher than a candidate"),
             (INVALID, "invalid output", "an output is invalid or the example failed")]
    return "".join(f'<button type="button" data-filter="{key}" title="{_e(tip)}">'
                   f'{_e(label)} ({counts.get(key, 0)})</button>' for key, label, tip in specs)


def render_examples(task: TaskResult, examples: TaskExamples | None,
                    budget: int) -> str:
    """The side-by-side section of one task: filter buttons, note and table.

    Args:
        task: The task's results (baseline and variant kinds).
        examples: Its rows, or None when the run has none.
        budget: Most UTF-8 bytes the table's rows may take; rows beyond are left out.
    """
    if examples is None or not examples.rows:
        return '<p class="note">No test examples were recorded for this task.</p>'
    variants = [v.name for v in task.variants]
    for row in examples.rows:
        variants += [n for n in row.cells if n not in variants]
    baseline = task.baseline
    lora = [v.name for v in task.variants if v.kind == "lora"]
    chosen = [task.candidate] if task.candidate in variants and task.candidate else []
    candidates = chosen or lora or [v for v in variants if v != baseline]
    rendered = []
    for row in examples.rows:
        flags = _flags(row, baseline, candidates)
        rendered.append((_row_html(row, variants, flags), flags))
    keep = _select(rendered, budget)
    counts = {"all": len(keep)}
    for i in keep:
        for f in rendered[i][1]:
            counts[f] = counts.get(f, 0) + 1
    notes = [examples.input_note] if examples.input_note else []
    if len(keep) < len(rendered):
        notes.append(f"Showing {len(keep)} of {len(rendered)} test examples to keep this "
                     "file small (invalid outputs and disagreements first); every record "
                     "is in the store.")
    head = "".join(
        f"<th>{_e(v)}{' (baseline)' if v == baseline else ''}</th>" for v in variants)
    note_html = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    body = "".join(rendered[i][0] for i in keep)
    return (f'<div class="sbs" data-page="{_PAGE_ROWS}">{note_html}'
            f'<div class="filters">{_buttons(counts, bool(lora))}</div>'
            f'<div class="pager"><button type="button" class="prev">previous</button> '
            f'<span class="pageinfo">{len(keep)} rows</span> '
            f'<button type="button" class="next">next</button></div>'
            f'<div class="scroll"><table class="examples"><thead><tr><th>id</th>'
            f"<th>input</th><th>reference</th>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></div></div>")
