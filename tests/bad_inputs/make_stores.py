"""Rebuild the stores the store and ``tunegate score`` cases of this corpus lay over ``_base``.

``python tests/bad_inputs/make_stores.py`` (from the repository root, with
``PYTHONPATH=.``) writes ``store/store.sqlite`` into three cases:

- ``store_newer_schema``: a store whose schema version (99) is newer than tunegate's;
- ``score_v1_run``: a store as schema version 1 wrote it (run ``r1``, records without inputs);
- ``score_task_changed``: a run of ``_base`` (its task recorded as ``task.yaml``,
  relative, so it resolves in the test's copy); the case then changes a test row.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.storeschema import V1_SCHEMA

CORPUS = Path(__file__).resolve().parent


def _fresh(case: str) -> Path:
    out = CORPUS / case / "store"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out / "store.sqlite"


def _close(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
    db.execute("PRAGMA page_size=512")  # small pages: a small binary fixture
    db.execute("VACUUM")
    db.close()


def newer() -> None:
    """A store written by a future tunegate: only its version row is read."""
    db = sqlite3.connect(_fresh("store_newer_schema"), isolation_level=None)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO schema_version VALUES (99)")
    _close(db)


def version_1() -> None:
    """Run ``r1`` of ``_base``'s task as schema version 1 stored it: no inputs, no prompts."""
    db = sqlite3.connect(_fresh("score_v1_run"), isolation_level=None)
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO schema_version VALUES (1)")
    config = {"tasks": [{"name": "toy", "path": "task.yaml", "digest": "old"}],
              "models": ["fake:keyword"]}
    db.execute("INSERT INTO runs VALUES ('r1', '2026-01-01T00:00:00+00:00', NULL, 'done',"
               " NULL, 'run.yaml', 'cdig', ?, 0)", (json.dumps(config),))
    db.execute("INSERT INTO records VALUES ('r1', 'toy', 'old', 'echo', 'fake:keyword', 'test',"
               " 'te0', 0, 'ALPHA', ?, ?, 10, 1, 0.0, 1, NULL, '2026-01-01')",
               (json.dumps({"text": "ALPHA", "prediction": "ALPHA", "detail": {}}),
                json.dumps({"label_accuracy": {"value": 1.0, "explanation": "", "detail": {}}})))
    _close(db)


def task_changed() -> None:
    """A real run of ``_base`` whose config records the task file as ``task.yaml``."""
    target = _fresh("score_task_changed")
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "proj"
        shutil.copytree(CORPUS / "_base", proj)
        store = proj / "store"
        subprocess.run([sys.executable, "-m", "harness.cli", "run", str(proj / "run.yaml"),
                        "--store", str(store), "--reports", str(proj / "reports")],
                       check=True, capture_output=True)
        db = sqlite3.connect(store / "store.sqlite", isolation_level=None)
        (config,) = db.execute("SELECT config FROM runs").fetchone()
        data = json.loads(config)
        for task in data["tasks"]:
            task["path"] = "task.yaml"
        db.execute("UPDATE runs SET config = ?", (json.dumps(data),))
        _close(db)
        shutil.copyfile(store / "store.sqlite", target)


if __name__ == "__main__":
    newer()
    version_1()
    task_changed()
