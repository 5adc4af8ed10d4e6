"""Reports: results.json, report.md and a self-contained index.html, from the store alone."""

from harness.report.writer import write_report

__all__ = ["write_report"]
