"""Write ``reports/<run-id>/`` from the store: no model is called."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.analysis.results import build_results
from harness.errors import UsageError
from harness.report.markdown import render_markdown
from harness.store import Store


def _clean(obj: Any) -> Any:
    """NaN is not JSON: write it as null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def write_report(store: Store, run_id: str, reports_dir: str | Path) -> Path:
    """Write results.json and report.md for ``run_id`` (``latest`` works).

    Returns:
        The report directory.

    Raises:
        UsageError: Unknown run, or the report directory is not writable.
    """
    run = store.get_run(run_id)
    results = build_results(run, store.records(run.run_id))
    out = Path(reports_dir) / run.run_id
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(_clean(results), indent=2) + "\n")
        (out / "report.md").write_text(render_markdown(results))
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror}", out) from None
    return out
