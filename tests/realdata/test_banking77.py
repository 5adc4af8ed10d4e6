"""BANKING77 (PolyAI, CC BY 4.0) through the documented bring-your-own-CSV path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sklearn.metrics import accuracy_score, f1_score

from harness.cli import main
from harness.tasks import load_task

pytestmark = [pytest.mark.realdata, pytest.mark.integration]


def _task(datasets: Path, tmp: Path) -> Path:
    root = datasets / "banking77" / "banking_data"
    labels = json.loads((root / "categories.json").read_text())
    task = tmp / "banking77.yaml"
    task.write_text(
        "name: banking77\nfamily: classification\n"
        "description: Which banking intent does the customer message express?\n"
        "data:\n  columns: {input: text, target: category}\n"
        f"  files: {{train: {root / 'train.csv'}, test: {root / 'test.csv'}}}\n"
        f"labels: {json.dumps(labels)}\n")
    return task


def test_loads_through_csv_with_a_column_mapping(datasets: Path, tmp_path: Path) -> None:
    task = load_task(_task(datasets, tmp_path))
    assert len(task.spec.labels) == 77
    assert (len(task.split("train")), len(task.split("test"))) == (10003, 3080)
    first = task.split("test")[0]
    assert (first.input, first.target, first.line) == ("How do I locate my card?",
                                                        "card_arrival", 2)


def test_scorer_accuracy_equals_sklearn(datasets: Path, tmp_path: Path) -> None:
    task = _task(datasets, tmp_path)
    (tmp_path / "zs.j2").write_text("Customer message: {{ input }}\nIntent:")
    (tmp_path / "zs.yaml").write_text("name: zero_shot\ntemplate: zs.j2\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(f"name: b77\nseed: 4\ntasks: [{task}]\nvariants: [zs.yaml]\n"
                   "models: [embedded]\nsplits: [test]\nlimit: {test: 6}\n")
    store = tmp_path / "store"
    assert main(["run", str(cfg), "--store", str(store), "--reports",
                 str(tmp_path / "reports")]) == 0
    con = sqlite3.connect(store / "store.sqlite")
    rows = con.execute("SELECT target, output FROM records").fetchall()
    con.close()
    gold = [r[0] for r in rows]
    pred = [json.loads(r[1])["prediction"] for r in rows]
    assert len(rows) == 6 and all(p is not None for p in pred)
    res = json.loads(next((tmp_path / "reports").glob("*/results.json")).read_text())
    (variant,) = res["tasks"][0]["variants"]
    labels = res["tasks"][0]["variants"][0]["confusion"]["labels"]
    assert variant["score"] == pytest.approx(accuracy_score(gold, pred))
    assert variant["metrics"]["macro_f1"] == pytest.approx(
        f1_score(gold, pred, labels=labels, average="macro", zero_division=0))
