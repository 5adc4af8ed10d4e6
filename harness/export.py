"""Per-example records out of the store, as Parquet or CSV (pandas), for a warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UsageError
from harness.store import Store


def records_frame(store: Store, run: str = "all") -> pd.DataFrame:
    """One row per stored record (one run, ``latest`` or ``all``), scores as columns."""
    runs = store.runs() if run == "all" else [store.get_run(run)]
    rows: list[dict[str, Any]] = []
    for r in runs:
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
            rows.append(row)
    return pd.DataFrame(rows)


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
