"""SIGKILL a ``tunegate run`` at seeded random points, resume each time, and compare.

The run uses the ``countfake`` backend (the fake backend with a delay per
request and a call log), so kills land mid-run: during start-up, during the
calibration requests, between a response and its record, mid-group. After the
last resume the per-example records must equal an uninterrupted run's, and the
call log must show that no request was sent again once its response was
stored: every call beyond the number of distinct requests is one that was in
flight when its process was killed (at most ``concurrency`` per kill).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from relkit import call_log, query, records, response_keys, run_ok, tunegate, write_project

SEED = 20261128
KILLS = 6  # one during start-up, five after a random number of new records
CONCURRENCY = 2
DELAY_S = "0.02"


def _stored(db: Path) -> int:
    rows = query(db, "SELECT COUNT(*) FROM records WHERE error IS NULL")
    return int(rows[0][0]) if rows else 0


def test_kill_nine_at_random_points_then_resume(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    proj = tmp_path / "proj"
    cfg = write_project(proj, concurrency=CONCURRENCY)

    # The reference: the same config run once without interruption.
    ref_log = tmp_path / "ref.calls"
    run_ok(["run", cfg.name, "--store", "ref", "--reports", "ref-reports"], proj,
           {"COUNTFAKE_LOG": str(ref_log)})
    reference = records(proj / "ref/store.sqlite")
    distinct = response_keys(proj / "ref/store.sqlite")
    ref_calls = call_log(ref_log)
    assert len(reference) == 2 * (30 + 12)
    # Uninterrupted: one call per distinct request (examples + 3 calibration prompts).
    assert len(distinct) == 2 * (30 + 12) + 3
    assert sorted(k for e, k in ref_calls if e == "start") == sorted(distinct)

    db = proj / "store/store.sqlite"
    args = ["run", cfg.name, "--store", "store", "--reports", "reports"]
    lost_per_kill, killed_at = [], []
    for attempt in range(KILLS):
        before_keys = response_keys(db)
        log = tmp_path / f"attempt{attempt}.calls"
        start_count = _stored(db)
        proc = tunegate(args, proj, {"COUNTFAKE_LOG": str(log), "COUNTFAKE_DELAY_S": DELAY_S})
        if attempt == 0:
            time.sleep(rng.uniform(0.05, 0.6))  # somewhere in start-up or the first calls
        else:
            target = start_count + rng.randint(2, 12)
            deadline = time.monotonic() + 120
            while _stored(db) < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the run made no progress"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.03))
        assert proc.poll() is None, ("finished before its kill", proc.communicate())
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        killed_at.append(_stored(db))
        calls = call_log(log)
        started = [k for e, k in calls if e == "start"]
        # Nothing whose response was already stored is ever asked again...
        assert not set(started) & before_keys
        # ...nor asked twice by one process.
        assert len(started) == len(set(started))
        # What was sent but not stored was in flight at the kill (bounded by concurrency).
        lost = set(started) - response_keys(db)
        assert len(lost) <= CONCURRENCY
        lost_per_kill.append(len(lost))

    assert killed_at == sorted(killed_at) and killed_at[-1] < len(reference)
    final_log = tmp_path / "final.calls"
    out = run_ok(args, proj, {"COUNTFAKE_LOG": str(final_log)})
    assert "resumed run" in out

    # The records equal the uninterrupted run's, in one run, finished.
    assert records(db) == reference
    runs = query(db, "SELECT run_id, status FROM runs")
    assert len(runs) == 1 and runs[0][1] == "done", runs
    # Calls across all attempts: one per distinct request, plus those lost in flight.
    all_started = [k for i in range(KILLS) for e, k in call_log(tmp_path / f"attempt{i}.calls")
                   if e == "start"]
    all_started += [k for e, k in call_log(final_log) if e == "start"]
    assert set(all_started) == distinct == response_keys(db)
    print(f"kills after {killed_at} records; lost in flight per kill {lost_per_kill}; "
          f"{len(all_started)} calls for {len(distinct)} distinct requests")
    assert len(all_started) == len(distinct) + sum(lost_per_kill), (lost_per_kill, killed_at)
