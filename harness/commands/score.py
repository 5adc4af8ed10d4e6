"""``tunegate score [RUN]``: re-score a stored run with today's scorers (no model calls)."""

from __future__ import annotations

import argparse

from harness.commands import EXIT_OK
from harness.commands.files import need_store
from harness.commands.screen import out

__all__ = ["cmd_score"]


def cmd_score(args: argparse.Namespace) -> int:
    """Re-score ``args.run`` into a new run, write its report, print which scores changed."""
    from harness.report import write_report
    from harness.rescore import rescore
    from harness.store import Store

    need_store(args.store, "run `tunegate run CONFIG` first or pass --store")
    store = Store(args.store)
    done = rescore(store, args.run)
    out(f"re-scored run {done.source} into run {done.run_id}: {done.records} records, "
        "0 model calls")
    moved = [c for c in done.changes if c.changed]
    for change in moved:
        out(f"  changed: {change.line()}")
    if not moved:
        out(f"  no score changed ({len(done.changes)} task/variant/scorer cells compared)")
    report_dir = write_report(store, done.run_id, args.reports)
    out(f"report: {report_dir / 'index.html'}")
    out(f"report: {report_dir / 'report.md'}")
    out(f"report: {report_dir / 'results.json'}")
    return EXIT_OK
