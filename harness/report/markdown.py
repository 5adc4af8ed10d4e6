"""``report.md``: the run's tables for terminals and pull requests."""

from __future__ import annotations

from harness.analysis.model import RunResults, TaskResult
from harness.fmt import interval, number, pct, pp
from harness.report.families import markdown_lines as family_lines
from harness.report.rag import markdown_lines as rag_lines
from harness.report.search import markdown_lines as search_lines
from harness.report.search import summary_line


def _task_section(t: TaskResult, conf: float) -> list[str]:
    out = [f"## {t.task} ({t.family}, metric: {t.metric})", ""]
    if not t.variants:
        return [*out, "No records for this task.", ""]
    out += [f"Baseline: **{t.baseline}**, chosen on dev: {t.baseline_reason}.", ""]
    out += search_lines(t)
    level = f"{round(conf * 100)}% CI"
    out += [f"| variant | kind | test {t.metric} % | {level} | n | errors | dev % "
            "| prompt tokens | macro-F1 % | invalid % |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for v in t.variants:
        mark = " (baseline)" if v.name == t.baseline else ""
        toks = v.prompt_tokens_mean
        metrics = v.metrics
        if t.family != "classification":
            metrics = {"invalid_rate": v.unparseable_rate}
        out.append(
            f"| {v.name}{mark} | {v.kind} | {pct(v.score)} | "
            f"{interval(v.ci_low, v.ci_high)} | {v.n} | {v.errors} | "
            f"{pct(v.dev_score)} | {number(toks, '.0f')} | "
            f"{pct(metrics.get('macro_f1'))} | {pct(metrics.get('invalid_rate'))} |")
    out.append("")
    out += family_lines(t)
    if t.comparisons:
        out += [f"Paired differences on the same test examples (candidate - baseline, "
                f"percentage points, {level} unless a row says otherwise; each interval "
                "agrees with its test: exact McNemar or sign-flip permutation, Holm-adjusted "
                "across tasks):", "",
                "| candidate | vs baseline | delta | CI | n | wins / losses / ties |",
                "|---|---|---:|---|---:|---|"]
        for c in t.comparisons:
            ci = interval(c.ci_low, c.ci_high, pp)
            if c.confidence != conf:
                ci += f" at {100 * c.confidence:.3g}%"
            out.append(f"| {c.candidate} | {c.baseline} | {pp(c.delta)} | {ci} "
                       f"| {c.n} | {c.wins} / {c.losses} / {c.ties} |")
        out.append("")
    out += rag_lines(t)
    for note in (t.note, t.economics_note):
        if note:
            out += [f"Note: {note}.", ""]
    return out


def _verdict_lines(results: RunResults) -> list[str]:
    """The overall verdict and one line per task, when the results carry verdicts."""
    tasks = results.tasks
    overall = results.verdict
    if overall is None and not any(t.verdict for t in tasks):
        return []
    lines = ["**No overall verdict.**", ""]
    if overall is not None:
        head = overall.headline or str(overall.label)
        lines = [f"**Verdict: {head}.** {overall.reason}", ""]
        if overall.gate:
            gate = overall.gate
            lines += [f"{gate[:1].upper()}{gate[1:]}.", ""]
    for t in tasks:
        v = t.verdict
        why = (f"{v.label}: {v.reason}" if v else
               f"no verdict: {t.decision_note or t.note or 'nothing to decide'}")
        lines.append(f"- **{t.task}**: {why}")
    return [*lines, ""]


def render_markdown(results: RunResults) -> str:
    """Render results as Markdown; the verdicts, when present, come first."""
    lines = [f"# tunegate report: run {results.run_id}", "",
             f"Created {results.created} from `{results.config_path}` "
             f"(config digest `{results.config_digest}`, seed {results.seed}, "
             f"status {results.status}).", "", *_verdict_lines(results)]
    search = summary_line(results)
    if search:
        lines += [search, ""]
    for t in results.tasks:
        lines += _task_section(t, results.confidence)
    return "\n".join(lines).rstrip() + "\n"
