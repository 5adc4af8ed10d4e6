"""Per-example records out of the store, as Parquet or CSV, in one fixed schema.

Every export has the same columns with the same types, whatever the run
contained (no errors, no scores of a family, an empty selection): nightly
files written to one folder read back together
(``pandas.read_parquet(folder)``, a warehouse's external table) instead of
failing on a column whose Arrow type was inferred as ``null`` in a run
without errors. The schema (:func:`export_schema`) is the base columns
below, three columns that carry the report's own definition of a score,
then one ``score_<name>`` column (float64; null where the scorer does not
apply or could not score) for every scorer tunegate registers; all columns
are nullable. docs/results-json.md lists it.

One row per sample. The three score columns (:mod:`harness.analysis.metric`)
let a warehouse that averages rows get the report's number:
``primary_score`` (this sample's value of the task's per-example scorer),
``example_score`` (the mean over the example's scored samples) and
``example_weight`` (1 / that number of samples; 0 when the sample is
unscored or failed). A variant's score is the mean of ``example_score`` over
distinct examples, which is the ``example_weight``-weighted mean of
``primary_score``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.analysis.metric import example_means, metric_of
from harness.errors import UsageError
from harness.scoring import SCORERS
from harness.store import Record, RunRow, Store

log = logging.getLogger(__name__)

BASE_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("run_id", pa.string()), ("created", pa.string()), ("config", pa.string()),
    ("task", pa.string()), ("task_digest", pa.string()), ("variant", pa.string()),
    ("model", pa.string()), ("split", pa.string()), ("example_id", pa.string()),
    ("sample", pa.int64()), ("target", pa.string()), ("output", pa.string()),
    ("prediction", pa.string()), ("prompt_tokens", pa.int64()),
    ("completion_tokens", pa.int64()), ("latency_s", pa.float64()), ("cached", pa.bool_()),
    ("error", pa.string()), ("primary_score", pa.float64()), ("example_score", pa.float64()),
    ("example_weight", pa.float64()))
"""The columns every export starts with, and their Arrow types."""


def score_columns() -> list[str]:
    """``score_<name>`` for every registered scorer, sorted by name."""
    return [f"score_{name}" for name in sorted(SCORERS.names())]


def export_schema() -> pa.Schema:
    """The one schema of every export: :data:`BASE_COLUMNS` then :func:`score_columns`."""
    fields = [pa.field(name, kind, nullable=True) for name, kind in BASE_COLUMNS]
    fields += [pa.field(name, pa.float64(), nullable=True) for name in score_columns()]
    return pa.schema(fields)


def _score(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _row(run: RunRow, rec: Record, known: set[str], unknown: set[str], scorer: str
         ) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": rec.run_id, "created": run.created, "config": run.config["spec"]["name"],
        "task": rec.task, "task_digest": rec.task_digest, "variant": rec.variant,
        "model": rec.model, "split": rec.split, "example_id": rec.example_id,
        "sample": rec.sample, "target": rec.target,
        "output": rec.output.get("text"), "prediction": rec.output.get("prediction"),
        "prompt_tokens": rec.prompt_tokens, "completion_tokens": rec.completion_tokens,
        "latency_s": rec.latency_s, "cached": rec.cached, "error": rec.error}
    for name, score in rec.scores.items():
        if f"score_{name}" in known:
            row[f"score_{name}"] = _score(score.get("value"))
        else:
            unknown.add(name)
    row["primary_score"] = _score(rec.scores.get(scorer, {}).get("value"))
    return row


def records_table(store: Store, run: str = "all") -> pa.Table:
    """One row per stored record (one run, ``latest`` or ``all``) in :func:`export_schema`.

    Scores of scorers this version does not register (a store written by
    another version) are left out, with one warning naming them.
    """
    schema = export_schema()
    known, unknown = set(score_columns()), set[str]()
    runs = store.runs() if run == "all" else [store.get_run(run)]
    rows = []
    for r in runs:
        scorer = {t["name"]: metric_of(t).scorer for t in r.config["tasks"]}
        rows += [_row(r, rec, known, unknown, scorer.get(rec.task, ""))
                 for rec in store.records(r.run_id)]
    _example_columns(rows)
    if unknown:
        log.warning("export: no column for the scores of %s (not a scorer of this tunegate)",
                    ", ".join(sorted(unknown)))
    return pa.Table.from_pylist(rows, schema=schema)

_CELL = ("run_id", "task", "variant", "model", "split")


def records_frame(store: Store, run: str = "all") -> pd.DataFrame:
    """:func:`records_table` as a pandas frame (nullable pandas dtypes, fixed columns)."""
    return records_table(store, run).to_pandas(types_mapper=pd.ArrowDtype)


def _example_columns(rows: list[dict[str, Any]]) -> None:
    """Add ``example_score`` and ``example_weight`` to each row, in place."""
    cells: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault(tuple(row[k] for k in _CELL), []).append(row)
    for cell in cells.values():
        means = example_means([r["example_id"] for r in cell],
                              [float("nan") if r["primary_score"] is None
                               else float(r["primary_score"]) for r in cell])
        for r in cell:
            mean, k = means[r["example_id"]]
            r["example_score"] = mean
            r["example_weight"] = 1.0 / k if k and r["primary_score"] is not None else 0.0


def export_records(store: Store, run: str, out: Path) -> tuple[Path, int]:
    """Write the records to ``out`` (``.parquet`` or ``.csv``) in the fixed schema.

    Raises:
        UsageError: Unknown suffix, unwritable path.
    """
    if out.suffix not in (".csv", ".parquet"):
        raise UsageError("unknown export format", out, hint="use .parquet or .csv")
    table = records_table(store, run)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            table.to_pandas(types_mapper=pd.ArrowDtype).to_csv(out, index=False)
        else:
            pq.write_table(table, out)
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", out) from None
    return out, table.num_rows
