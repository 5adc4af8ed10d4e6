"""Report blocks for the prompt search: what was tried on dev, and prompting's share.

The leaderboard shows dev scores (where the baseline was chosen) and, for
the prompts that ran on test, their test score: the winner's dev score is
never presented as its result. The honesty notes and the prompting share
sit next to the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from harness.analysis.model import RunResults, SearchResult, SearchRow, TaskResult
from harness.fmt import pct

MAX_ROWS = 15


def _settings(row: SearchRow) -> str:
    if not row.search:
        return "(config variant)"
    return ", ".join(f"{k}={v}" for k, v in row.settings.items()) or "-"


def share_sentence(task: TaskResult) -> str | None:
    """"Prompting gets 85% [70, 97] of the fine-tune's gain over the floor (bare)"."""
    s = task.prompting_share
    if s is None:
        return None
    if s.estimate is None:
        return f"Prompting share: {s.note}."
    ci = (f" [{100 * s.ci_low:.0f}, {100 * s.ci_high:.0f}]"
          if s.ci_low is not None and s.ci_high is not None else " (interval undefined)")
    return (f"Prompting gets {100 * s.estimate:.0f}%{ci} of the fine-tune's gain on test "
            f"(best prompt {s.best_prompt} vs floor {s.floor} vs fine-tune "
            f"{s.fine_tune}, n={s.n}).")


def _budget(search: SearchResult) -> str:
    b = search.budget if isinstance(search.budget, Mapping) else {}
    limits = [f"{b['dev_requests']:,} dev requests" if b.get("dev_requests") else "",
              f"{b['tokens']:,} tokens" if b.get("tokens") else "",
              f"{b['minutes']:g} minutes" if b.get("minutes") else ""]
    spent = search.spent
    text = (f"{search.candidates} candidates in {search.rounds} round(s); budget "
            f"{', '.join(x for x in limits if x) or 'none'}; spent {spent.get('requests', 0):,} "
            f"dev requests, {spent.get('tokens', 0):,} tokens, "
            f"{spent.get('seconds', 0.0):.0f} s")
    if search.stopped:
        text += f"; stopped early: {search.stopped}"
    return text


def markdown_lines(task: TaskResult) -> list[str]:
    """Markdown: the leaderboard, budget, notes and share (empty without a search)."""
    search = task.search
    out: list[str] = []
    if search is not None:
        rows = search.rows
        out += [f"Prompt search on dev ({_budget(search)}); winner "
                f"**{search.winner or 'none'}**, test score "
                f"{pct(search.winner_test_score)}:", "",
                "| prompt | settings | dev % | dev CI | n dev | round | test % |",
                "|---|---|---:|---|---:|---:|---:|"]
        for r in rows[:MAX_ROWS]:
            out.append(f"| {r.name} | {_settings(r)} | {pct(r.dev_score)} | "
                       f"[{pct(r.dev_ci_low)}, {pct(r.dev_ci_high)}] | {r.n_dev} | "
                       f"{r.round or '-'} | {pct(r.test_score)} |")
        if len(rows) > MAX_ROWS:
            out.append(f"| ... {len(rows) - MAX_ROWS} more in results.json | | | | | | |")
        out.append("")
    for note in task.selection_notes or ():
        out += [f"Selection: {note}.", ""]
    sentence = share_sentence(task)
    if sentence:
        out += [sentence, ""]
    return out


def html_block(task: TaskResult) -> str:
    """HTML: the same, escaped."""
    search = task.search
    parts = []
    if search is not None:
        head = "".join(f"<th>{h}</th>" for h in ("prompt", "settings", "dev %", "dev CI",
                                                  "n dev", "round", "test %"))
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in (
                r.name, _settings(r), pct(r.dev_score),
                f"[{pct(r.dev_ci_low)}, {pct(r.dev_ci_high)}]", r.n_dev,
                r.round or "-", pct(r.test_score))) + "</tr>"
            for r in search.rows[:MAX_ROWS])
        parts.append(f"<h3>Prompt search</h3><p>{escape(_budget(search))}; winner "
                     f"<b>{escape(str(search.winner or 'none'))}</b>, test score "
                     f"{pct(search.winner_test_score)}.</p>"
                     f"<table class=\"search\"><tr>{head}</tr>{body}</table>")
    for note in task.selection_notes or ():
        parts.append(f'<p class="selection">Selection: {escape(note)}.</p>')
    sentence = share_sentence(task)
    if sentence:
        parts.append(f'<p class="share">{escape(sentence)}</p>')
    return "".join(parts)


def summary_line(results: RunResults) -> str | None:
    """The run-level line: candidates tried per task and what the search cost."""
    parts, requests, seconds = [], 0, 0.0
    for t in results.tasks:
        s = t.search
        if s is not None:
            parts.append(f"{t.task} {s.candidates}")
            requests += int(s.spent.get("requests", 0))
            seconds += float(s.spent.get("seconds", 0.0))
    if not parts:
        return None
    return (f"Prompt search: candidates tried per task: {', '.join(parts)}; cost "
            f"{requests:,} dev requests, {seconds:.0f} s.")
