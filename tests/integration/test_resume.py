"""A real run killed with SIGKILL halfway resumes and scores every example exactly once."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def test_sigkill_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        f"name: killme\nseed: 5\ntasks: [{ROOT / 'tasks/support_routing.yaml'}]\n"
        f"variants: [{ROOT / 'baselines/zero_shot.yaml'}, {ROOT / 'baselines/few_shot.yaml'}]\n"
        "models: [embedded]\nsplits: [test]\nlimit: {test: 30}\n")
    store, reports = tmp_path / "store", tmp_path / "reports"
    db = store / "store.sqlite"
    args = ["run", str(cfg), "--store", str(store), "--reports", str(reports)]
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while _count(db, "records") < 20:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept, calls_done = _count(db, "records"), _count(db, "responses")
    assert 20 <= kept < 60

    assert main(args) == 0
    out = capsys.readouterr().out
    m = re.search(r"resumed run (\S+): (\d+) examples scored, (\d+) already stored, "
                  r"(\d+) model calls", out)
    assert m, out
    scored, stored, calls = int(m[2]), int(m[3]), int(m[4])
    assert stored == kept and scored + stored == 60
    # Only requests never answered are sent again: no duplicate model calls.
    assert calls == 60 - calls_done
    con = sqlite3.connect(db)
    rows = con.execute("SELECT run_id, variant, example_id, error FROM records").fetchall()
    con.close()
    assert len(rows) == 60 and {r[0] for r in rows} == {m[1]}
    assert len({(r[1], r[2]) for r in rows}) == 60 and all(r[3] is None for r in rows)
