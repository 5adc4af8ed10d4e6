"""Write ``reports/<run-id>/`` from the store: no model is called.

The directory holds ``results.json``, ``report.md``, ``index.html`` (self-
contained) and each figure as a PNG file. Earlier runs of the same config
(same digest) feed the trend figure; their results are rebuilt from the
store too, capped at the most recent :data:`HISTORY_RUNS`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from harness.analysis.model import RunResults
from harness.analysis.results import build_results
from harness.errors import UsageError
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.plots import make_plots
from harness.report.sidebyside import collect_examples
from harness.store import RunRow, Store

log = logging.getLogger(__name__)

HISTORY_RUNS = 10


def history(store: Store, run: RunRow, limit: int = HISTORY_RUNS) -> list[RunResults]:
    """Results of the earlier runs of ``run``'s config (same digest), oldest first.

    A run whose stored config can no longer be analysed is skipped with a
    warning: a trend must not stop the report.
    """
    earlier = []
    for other in store.runs():
        if other.run_id == run.run_id:
            break
        if other.config_digest == run.config_digest:
            earlier.append(other)
    out = []
    for other in earlier[-limit:]:
        try:
            out.append(build_results(other, store.records(other.run_id),
                                     store.trainings(other.run_id), store.searches(other.run_id)))
        except (KeyError, ValueError, TypeError) as exc:
            log.warning("trend: skipping run %s: %s", other.run_id, exc)
    return out


def write_report(store: Store, run_id: str, reports_dir: str | Path,
                 results: RunResults | None = None) -> Path:
    """Write results.json, report.md, index.html and the PNGs for ``run_id``.

    ``latest`` means the newest run. ``results`` are the run's analysed results
    (built from the store when not given); results.json is their serialisation.

    Returns:
        The report directory.

    Raises:
        UsageError: Unknown run, or the report directory is not writable.
    """
    run = store.get_run(run_id)
    records = list(store.records(run.run_id))
    if results is None:
        results = build_results(run, records, store.trainings(run.run_id),
                                store.searches(run.run_id))
    plots = make_plots(results, history(store, run))
    page = render_html(results, plots, collect_examples(run, records))
    out = Path(reports_dir) / run.run_id
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(results.to_json())  # NaN and infinity as null
        (out / "report.md").write_text(render_markdown(results))
        (out / "index.html").write_text(page, encoding="utf-8")
        for plot in plots:
            (out / f"{plot.name}.png").write_bytes(plot.png)
    except OSError as exc:
        raise UsageError(f"cannot write the report: {exc.strerror}", out) from None
    return out
