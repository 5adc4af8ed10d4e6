"""Reports: results.json and report.md, rebuilt from the store alone."""

from harness.report.writer import write_report

__all__ = ["write_report"]
