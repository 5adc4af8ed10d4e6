"""Per-example records out of the store, as Parquet or CSV (pandas), for a warehouse.

One row per sample. Beside every scorer's ``score_<name>`` column, three
columns carry the report's own definition of a score
(:mod:`harness.analysis.metric`), so a warehouse that averages rows gets
the report's number: ``primary_score`` (this sample's value of the task's
per-example scorer), ``example_score`` (the mean over the example's scored
samples) and ``example_weight`` (1 / that number of samples; 0 when the
sample is unscored or failed). A variant's score is the mean of
``example_score`` over distinct examples, which is the
``example_weight``-weighted mean of ``primary_score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.analysis.metric import example_means, metric_of
from harness.errors import UsageError
from harness.store import Store

_CELL = ("run_id", "task", "variant", "model", "split")


def records_frame(store: Store, run: str = "all") -> pd.DataFrame:
    """One row per stored record (one run, ``latest`` or ``all``), scores as columns."""
    runs = store.runs() if run == "all" else [store.get_run(run)]
    rows: list[dict[str, Any]] = []
    for r in runs:
        scorer = {t["name"]: metric_of(t).scorer for t in r.config["tasks"]}
        for rec in store.records(r.run_id):
            row: dict[str, Any] = {
                "run_id": rec.run_id, "created": r.created, "config": r.config["spec"]["name"],
                "task": rec.task, "task_digest": rec.task_digest, "variant": rec.variant,
                "model": rec.model, "split": rec.split, "example_id": rec.example_id,
                "sample": rec.sample, "target": rec.target,
                "output": rec.output.get("text"), "prediction": rec.output.get("prediction"),
                "prompt_tokens": rec.prompt_tokens, "completion_tokens": rec.completion_tokens,
                "latency_s": rec.latency_s, "cached": rec.cached, "error": rec.error}
            for name, score in rec.scores.items():
                row[f"score_{name}"] = score.get("value")
            row["primary_score"] = rec.scores.get(scorer.get(rec.task, ""), {}).get("value")
            rows.append(row)
    _example_columns(rows)
    return pd.DataFrame(rows)


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
    """Write the records to ``out`` (``.parquet`` or ``.csv``).

    Raises:
        UsageError: Unknown suffix, missing Parquet engine, unwritable path.
    """
    frame = records_frame(store, run)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            frame.to_csv(out, index=False)
        elif out.suffix == ".parquet":
            try:
                frame.to_parquet(out, index=False)
            except ImportError:
                raise UsageError("Parquet needs pyarrow", out,
                                 hint="pip install pyarrow, or write .csv") from None
        else:
            raise UsageError("unknown export format", out, hint="use .parquet or .csv")
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror}", out) from None
    return out, len(frame)
