"""``tunegate score`` makes zero model calls, watched from outside the process (issue 15).

A real run of the reliability project with the ``countfake`` backend logs
every model call (``start KEY`` / ``end KEY``); re-scoring that run in a
second process must add no line to the log, and the new run's records must
equal the source run's (same scorers today: same scores).
"""

from __future__ import annotations

import re
from pathlib import Path

from relkit import records, run_ok, write_project

ROOT = Path(__file__).resolve().parents[2]


def test_score_makes_no_model_call(tmp_path: Path) -> None:
    cfg = write_project(tmp_path, n_test=9, n_dev=6)
    log = tmp_path / "calls.log"
    env = {"COUNTFAKE_LOG": str(log), "PYTHONPATH": str(ROOT)}
    run_ok(["run", str(cfg), "--store", "st"], tmp_path, env)
    calls = log.read_text()
    assert calls.count("start ") > 0  # the run itself asked the model
    out = run_ok(["score", "--store", "st"], tmp_path, env)
    assert log.read_text() == calls  # not one call more
    assert "0 model calls" in out and "no score changed" in out
    found = re.search(r"re-scored run (\S+) into run (\S+):", out)
    assert found is not None, out
    source, new = found.groups()
    db = tmp_path / "st" / "store.sqlite"
    assert records(db, source) == records(db, new) != []
