"""History, regression detection (noise vs a real drop) and export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.history import history, regressions
from harness.store import Record, Store

N = 300


def _config(name: str = "nightly") -> dict:
    return {"spec": {"name": name, "seed": 0}, "tasks": [{"name": "t", "family":
                                                           "classification"}],
            "variants": [{"name": "v", "kind": "prompt"}], "models": ["m"]}


def _run(store: Store, run_id: str, scores: np.ndarray, digest: str = "d1",
         created_order: int = 0) -> None:
    store.create_run(run_id, "cfg.yaml", "cfgdigest", _config())
    for i, s in enumerate(scores):
        store.put_record(Record(run_id, "t", digest, "v", "m", "test", f"e{i}", 0, "A",
                                {"text": "A", "prediction": "A"},
                                {"label_accuracy": {"value": float(s), "explanation": "",
                                                    "detail": {}}}, 5, 1, 0.1, False, None))
    store.finish_run(run_id, "done", 0)



def test_chance_differences_raise_no_alert(store):
    rng = np.random.default_rng(11)
    truth = rng.random(N) < 0.7
    # Two nights of the same model: each example flips with 10% probability (noise).
    night1 = truth ^ (rng.random(N) < 0.1)
    night2 = truth ^ (rng.random(N) < 0.1)
    _run(store, "r1", night1.astype(float))
    _run(store, "r2", night2.astype(float))
    regs, notes = regressions(store, "r2")
    assert regs == [] and notes == []


def test_a_real_drop_is_one_alert(store):
    rng = np.random.default_rng(12)
    before = (rng.random(N) < 0.8).astype(float)
    after = before.copy()
    drop = np.flatnonzero(before == 1)[:45]  # 15 points of accuracy lost
    after[drop] = 0.0
    _run(store, "r1", before)
    _run(store, "r2", after)
    (reg,) = regressions(store, "r2")[0]
    assert (reg.task, reg.variant, reg.model, reg.reference) == ("t", "v", "m", "r1")
    assert reg.delta == pytest.approx(-0.15)
    assert reg.p_holm < 0.05 and reg.ci_high < 0
    assert reg.line().startswith("REGRESSION t/v on m: -15.0 pp vs run r1")
    # A tolerance larger than the drop silences it.
    assert regressions(store, "r2", tolerance=0.2)[0] == []


def test_changed_task_data_is_not_compared(store):
    _run(store, "r1", np.ones(20))
    _run(store, "r2", np.zeros(20), digest="d2")
    regs, notes = regressions(store, "r2")
    assert regs == [] and "task data changed" in notes[0]


def test_pinned_reference_and_unknown_run(store):
    _run(store, "r1", np.ones(40))
    _run(store, "r2", np.ones(40))
    _run(store, "r3", np.r_[np.zeros(20), np.ones(20)])
    assert regressions(store, "r3", against="r1")[0][0].reference == "r1"
    assert regressions(store, "r1")[1] == ["no earlier run of this config to compare with"]
    with pytest.raises(Exception, match="no run 'nope'"):
        regressions(store, "r3", against="nope")


def test_history_table_and_export(store, tmp_path, capsys):
    _run(store, "r1", np.r_[np.ones(3), np.zeros(1)])
    _run(store, "r2", np.ones(4))
    rows = history(store)
    assert [(r.run_id, r.score, r.n) for r in rows] == [("r1", 0.75, 4), ("r2", 1.0, 4)]
    assert main(["history", "--store", str(store.root), "--task", "t"]) == 0
    out = capsys.readouterr().out
    assert "75.0%" in out and "100.0%" in out
    assert main(["history", "--store", str(store.root), "--since", "yesterday"]) == 2
    csv = tmp_path / "out" / "records.csv"
    assert main(["export", "all", "--store", str(store.root), "--out", str(csv)]) == 0
    frame = pd.read_csv(csv)
    assert len(frame) == 8 and frame["score_label_accuracy"].sum() == 7
    pq = tmp_path / "out" / "r2.parquet"
    assert main(["export", "r2", "--store", str(store.root), "--out", str(pq)]) == 0
    assert len(pd.read_parquet(pq)) == 4
    assert main(["export", "r2", "--store", str(store.root), "--out",
                 str(tmp_path / "x.txt")]) == 2
