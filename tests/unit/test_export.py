"""Exports have one fixed schema, so nightly files stack (issue 18 case 6).

A run without errors used to write its ``error`` column with Arrow type
``null``, and ``pandas.read_parquet(folder)`` over two nightly files failed
with ``Unsupported cast from large_string to null``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.cli import main
from harness.export import BASE_COLUMNS, export_schema, score_columns
from harness.scoring import SCORERS
from harness.store import Record, Store


def _config() -> dict[str, object]:
    return {"spec": {"name": "nightly", "seed": 0}, "tasks": [], "variants": [], "models": []}


def _night(store: Store, run_id: str, errors: dict[int, str], family_score: str) -> None:
    """Three records; ``errors`` maps an example index to its error; one scorer's values."""
    store.create_run(run_id, "cfg.yaml", "cfgdigest", _config())
    for i in range(3):
        err = errors.get(i)
        scores = {} if err else {family_score: {"value": float(i % 2), "explanation": "",
                                                "detail": {}}}
        store.put_record(Record(run_id, "t", "d1", "v", "m", "test", f"e{i}", 0, "A",
                                {"text": None if err else "A", "prediction": None if err
                                 else "A"}, scores, 5, 1, 0.25, False, err))
    store.finish_run(run_id, "done", 0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "st")
    # night 1: no error at all, classification scores only
    _night(s, "night1", {}, "label_accuracy")
    # night 2: one error (example 1), format scores only
    _night(s, "night2", {1: "timeout after 4 retries"}, "exact_match")
    yield s
    s.close()


def _export(tmp_path: Path, run: str, out: Path) -> None:
    assert main(["export", run, "--store", str(tmp_path / "st"), "--out", str(out)]) == 0


def test_two_nightly_parquet_files_read_back_as_one_frame(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "nightly"
    _export(tmp_path, "night1", folder / "night1.parquet")
    _export(tmp_path, "night2", folder / "night2.parquet")
    # every file has the one schema, whatever the run contained
    for name in ("night1", "night2"):
        assert pq.read_schema(folder / f"{name}.parquet").remove_metadata() == export_schema()
    assert pq.read_schema(folder / "night1.parquet").field("error").type == pa.string()
    frame = pd.read_parquet(folder)  # failed: Unsupported cast from large_string to null
    assert len(frame) == 6  # 3 records a night
    assert frame["error"].notna().sum() == 1
    assert frame.loc[frame["error"].notna(), "example_id"].tolist() == ["e1"]
    # night1's label_accuracy: 0, 1, 0; night2 has none (nulls, not a missing column)
    acc = frame.loc[frame["run_id"] == "night1", "score_label_accuracy"].tolist()
    assert acc == [0.0, 1.0, 0.0]
    assert frame.loc[frame["run_id"] == "night2", "score_label_accuracy"].isna().all()
    # night2's exact_match: e0 0.0, e1 errored (null), e2 0.0
    em = frame.loc[frame["run_id"] == "night2", "score_exact_match"].tolist()
    assert em[0] == 0.0 and pd.isna(em[1]) and em[2] == 0.0


def test_csv_exports_have_the_same_columns_in_the_same_order(store: Store,
                                                             tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _export(tmp_path, "night1", a)
    _export(tmp_path, "night2", b)
    head = [name for name, _ in BASE_COLUMNS] + score_columns()
    assert a.read_text().splitlines()[0].split(",") == head
    assert b.read_text().splitlines()[0].split(",") == head
    both = pd.concat([pd.read_csv(a), pd.read_csv(b)])
    assert len(both) == 6 and both["score_label_accuracy"].sum() == 1.0


def test_the_schema_names_every_scorer_and_is_nullable() -> None:
    schema = export_schema()
    assert schema.names[:len(BASE_COLUMNS)] == [name for name, _ in BASE_COLUMNS]
    assert {f"score_{n}" for n in SCORERS.names()} == set(schema.names[len(BASE_COLUMNS):])
    assert all(field.nullable for field in schema)


def test_an_empty_selection_still_writes_the_schema(tmp_path: Path) -> None:
    s = Store(tmp_path / "st")
    s.create_run("empty", "cfg.yaml", "cfgdigest", _config())
    s.finish_run("empty", "done", 0)
    s.close()
    _export(tmp_path, "empty", tmp_path / "e.parquet")
    assert pq.read_schema(tmp_path / "e.parquet").remove_metadata() == export_schema()
