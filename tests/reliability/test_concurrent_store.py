"""Three ``tunegate run`` processes with different configs write one store at the same time.

They start together on a store that does not exist yet (all create the
schema), share part of their requests (the zero-shot prompts are the same, so
several may answer one cache key) and commit records concurrently from 8
worker threads each. All must finish, SQLite must report no corruption, and
each run's records must equal that config's run alone in its own store.
(Before the store serialised its connection, 4 rounds in 6 of this failed
with "database is locked"; with two processes at concurrency 4, 1 in 6.)
"""

from __future__ import annotations

import re
from pathlib import Path

from relkit import query, records, run_ok, tunegate, write_project


def test_three_processes_share_one_store(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    cfgs = [write_project(proj, n_test=60, seed=seed, run_name=name, concurrency=8)
            for seed, name in ((3, "ra"), (4, "rb"), (5, "rc"))]

    alone = {}
    for cfg in cfgs:
        store = f"alone-{cfg.stem}"
        run_ok(["run", cfg.name, "--store", store, "--reports", f"{store}-reports"], proj)
        alone[cfg.stem] = records(proj / store / "store.sqlite")

    procs = {cfg.stem: tunegate(["run", cfg.name, "--store", "shared", "--reports",
                                 f"shared-{cfg.stem}"], proj)
             for cfg in cfgs}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, (name, out.decode(), err.decode())
        # Without a terminal the run logs timestamped progress lines, and nothing else.
        assert all(re.match(r"\d\d:\d\d:\d\d ", line)
                   for line in err.decode().splitlines()), err.decode()

    db = proj / "shared/store.sqlite"
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert query(db, "PRAGMA journal_mode") == [("wal",)]
    runs = {r[2]: (r[0], r[1]) for r in query(
        db, "SELECT run_id, status, json_extract(config, '$.spec.name') FROM runs")}
    assert len(runs) == 3 and all(status == "done" for _, status in runs.values()), runs
    for cfg in cfgs:
        run_id, _ = runs[cfg.stem]
        assert records(db, run_id) == alone[cfg.stem]
    # The shared zero-shot prompts were answered once: one cached response per key.
    keys = query(db, "SELECT COUNT(*), COUNT(DISTINCT key) FROM responses")[0]
    assert keys[0] == keys[1]
    assert keys[0] < 3 * len(alone["ra"]) + 9  # the configs shared requests
