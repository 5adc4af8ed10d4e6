"""``run``, ``gate`` and ``compare-base``: run a config, then show the answer.

Each ends with the same screen: a compact table (task, baseline and how it
was chosen, candidate, gain with its interval, verdict, payback), the
headline, the gate's rule, and the paths of index.html, report.md,
results.json and the run's log file.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from harness.commands import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK
from harness.commands.feedback import Feedback
from harness.commands.screen import err, out
from harness.commands.summary import show_summary

if TYPE_CHECKING:
    from harness.analysis.model import RunResults
    from harness.config import RunConfig
    from harness.store import Store

__all__ = ["cmd_compare_base", "cmd_gate", "cmd_run"]

_INTERRUPTED = "interrupted: finished examples are kept; run the same command again to resume"


T = TypeVar("T")


def _results(report_dir: Path) -> RunResults:
    """The run's results.json, read back through its model."""
    from harness.analysis.model import RunResults

    return RunResults.from_json((report_dir / "results.json").read_bytes())


def _until_interrupted(feedback: Feedback, work: Callable[[], T]) -> T | None:
    """``work()`` with ``feedback`` closed after it; None when Ctrl-C stopped it.

    On Ctrl-C it says that finished examples are kept and how to resume.
    """
    try:
        return work()
    except KeyboardInterrupt:
        feedback.close()
        err(_INTERRUPTED)
        return None
    finally:
        feedback.close()


def _report_paths(report_dir: Path, log: Path | None) -> list[tuple[str, Path | None]]:
    return [("report", report_dir / "index.html"), ("report", report_dir / "report.md"),
            ("report", report_dir / "results.json"), ("log", log)]


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) a config, write its report, and show the answer."""
    from harness import pipeline
    from harness.config import load_config
    from harness.store import Store

    cfg = load_config(args.config)
    store = Store(args.store)
    feedback = Feedback(args.logs, store.root)
    done = _until_interrupted(feedback, lambda: pipeline.run(
        cfg, store, args.reports, progress=feedback, fresh=args.fresh))
    if done is None:
        return EXIT_INTERRUPTED
    result, report_dir = done.result, done.report_dir
    verb = "resumed" if result.resumed else "ran"
    out(f"{verb} run {result.run_id}: {result.records} examples scored, "
        f"{result.skipped} already stored, {result.model_calls} model calls, "
        f"{result.cache_hits} cache hits, {result.retries} retries, {result.errors} errors")
    if result.model_calls == 0 and result.records:
        out("all responses came from the cache: zero model calls")
    code = EXIT_OK
    if cfg.spec.regression is not None and _report_regressions(store, result.run_id, cfg):
        code = EXIT_FAIL
    from harness.report.terminal import headers, run_headline, run_rows

    results = done.results
    headline, gate_line = run_headline(results)
    show_summary(run_rows(results), headers(results.confidence), headline,
                 gate_line, _report_paths(report_dir, args.logs.path))
    if result.errors:
        err(f"{result.errors} examples failed after retries; run again to retry them")
        code = EXIT_FAIL
    return code


def _report_regressions(store: Store, run_id: str, cfg: RunConfig) -> bool:
    """Print one line per significant regression; True when there is any."""
    from harness.history import regressions

    assert cfg.spec.regression is not None
    regs, notes = regressions(store, run_id, cfg.spec.regression.against,
                              cfg.spec.regression.tolerance, cfg.spec.analysis.confidence,
                              cfg.spec.seed)
    for note in notes:
        out(f"regression check: {note}")
    for reg in regs:
        err(reg.line())
    if not regs:
        out("regression check: no significant regression")
    return bool(regs)


def cmd_gate(args: argparse.Namespace) -> int:
    """Run or reuse a config, decide, write junit.xml and summary.md; exit 0/1/3."""
    from harness.gating import gate

    feedback = Feedback(args.logs, Path(args.store))
    res = _until_interrupted(feedback, lambda: gate(
        args.config, min_gain=args.min_gain, max_payback_months=args.max_payback_months,
        require=args.require, store=args.store, reports=args.reports, progress=feedback))
    if res is None:
        return EXIT_INTERRUPTED
    from harness.report.terminal import headers, run_rows

    results = _results(res.report_dir)
    show_summary(run_rows(results), headers(results.confidence),
                 res.headline or res.label, res.gate_line or None,
                 [*_report_paths(res.report_dir, None), ("junit", res.junit),
                  ("summary", res.summary), ("log", args.logs.path)])
    return res.exit_code


def cmd_compare_base(args: argparse.Namespace) -> int:
    """Old base + adapter vs new base + prompting (+ retrained adapter), paired."""
    from harness.compare_base import compare_base

    feedback = Feedback(args.logs, Path(args.store))
    res = _until_interrupted(feedback, lambda: compare_base(
        args.config, args.old, args.new, retrain=args.retrain, store=args.store,
        reports=args.reports, progress=feedback))
    if res is None:
        return EXIT_INTERRUPTED
    if res.tokenizer_note:
        out(f"note: {res.tokenizer_note}")
    for d in res.decisions:
        out(f"{d.task}: {d.label}: {d.reason}")
    out("")
    from harness.report.terminal import base_rows, decisions_headline, headers

    results = _results(res.report_dir)
    show_summary(base_rows(results, res.decisions), headers(results.confidence),
                 decisions_headline([(d.task, d.label) for d in res.decisions]), None,
                 [*_report_paths(res.report_dir, None),
                  ("summary", res.report_dir / "compare_base.md"), ("log", args.logs.path)])
    return EXIT_OK
