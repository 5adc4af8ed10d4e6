"""Store schema version 2 and the migration of version-1 stores (issue 15).

A version-1 store is built here with version 1's own SQL (as tunegate 1 wrote
it: WAL mode, one schema_version row), then opened by today's Store.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness import storeschema
from harness.cli import main
from harness.errors import UsageError
from harness.store import Store
from harness.storeschema import BACKUP_NAME, SCHEMA_VERSION, STEPS_1_TO_2, V1_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
V1_RECORD = ("r1", "toy", "tdig", "echo", "fake:keyword", "test", "e1", 0, "ALPHA",
             json.dumps({"text": "ALPHA", "prediction": "ALPHA", "detail": {}}),
             json.dumps({"label_accuracy": {"value": 1.0, "explanation": "ok", "detail": {}}}),
             12, 1, 0.25, 0, None, "2026-01-01T00:00:00+00:00")


def make_v1_store(root: Path, wal: bool = True) -> Path:
    """A store as tunegate with schema version 1 left it: one run, two records, a response."""
    root.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(root / "store.sqlite", isolation_level=None)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_SCHEMA)
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO responses VALUES ('k', 'score', '{}', '{}', '{\"lp\": [-1.0]}', 0.1,"
               " '2026-01-01')")
    db.execute("INSERT INTO runs VALUES ('r1', '2026-01-01T00:00:00+00:00',"
               " '2026-01-01T00:01:00+00:00', 'done', NULL, 'run.yaml', 'cdig',"
               " '{\"tasks\": [{\"name\": \"toy\", \"path\": \"task.yaml\", \"digest\": \"tdig\"}],"
               " \"models\": [\"fake:keyword\"]}', 3)")
    db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               V1_RECORD)
    db.execute("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (*V1_RECORD[:6], "e2", *V1_RECORD[7:15], "transient: boom", V1_RECORD[16]))
    db.close()
    return root


def _raw(root: Path) -> tuple[int, list[str], list[str], int]:
    """(version, records' columns, tables, records) read with plain sqlite3."""
    db = sqlite3.connect(root / "store.sqlite")
    try:
        version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        cols = [r[1] for r in db.execute("PRAGMA table_info(records)")]
        tables = sorted(r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
        n = db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    finally:
        db.close()
    return version, cols, tables, n


V1_TABLES = ["records", "responses", "runs", "schema_version", "searches", "trainings"]


def test_a_version_1_store_migrates_and_keeps_everything(tmp_path):
    root = make_v1_store(tmp_path / "st")
    assert _raw(root)[0] == 1 and "input" not in _raw(root)[1]
    store = Store(root)
    version, cols, tables, n = _raw(root)
    assert (version, n) == (2, 2) and version == SCHEMA_VERSION
    assert cols[-4:] == ["input", "fields", "prompt_digest", "scorers_digest"]
    assert tables == sorted([*V1_TABLES, "prompts", "scorer_sets"])
    ok, failed = store.records("r1")
    # v1 records keep every v1 field; what v1 never stored is unknown (None), not empty
    assert (ok.example_id, ok.target, ok.scores["label_accuracy"]["value"]) == ("e1", "ALPHA",
                                                                               1.0)
    assert (ok.input, ok.fields, ok.prompt, ok.system, ok.scorers) == (None,) * 5
    assert failed.error == "transient: boom"
    assert store.get_response("k") == {"lp": [-1.0], "_latency_s": 0.1}
    assert store.get_run("r1").model_calls == 3
    store.close()
    # the backup is the version-1 store as it was
    assert _raw(_backup_dir(root))[:3] == (1, _v1_columns(), V1_TABLES)
    # opening again does nothing more
    Store(root).close()
    assert _raw(root)[0] == 2


def _backup_dir(root: Path) -> Path:
    """A directory whose store.sqlite is the backup, to read it with :func:`_raw`."""
    copy = root.parent / "backup"
    copy.mkdir(exist_ok=True)
    (copy / "store.sqlite").write_bytes((root / BACKUP_NAME).read_bytes())
    return copy


def _v1_columns() -> list[str]:
    return ["run_id", "task", "task_digest", "variant", "model", "split", "example_id",
            "sample", "target", "output", "scores", "prompt_tokens", "completion_tokens",
            "latency_s", "cached", "error", "created"]


def test_a_new_store_is_version_2_from_the_start(tmp_path):
    Store(tmp_path / "st").close()
    version, cols, tables, _ = _raw(tmp_path / "st")
    assert version == 2 and cols == [*_v1_columns(), "input", "fields", "prompt_digest",
                                     "scorers_digest"]
    assert tables == sorted([*V1_TABLES, "prompts", "scorer_sets"])
    assert not (tmp_path / "st" / BACKUP_NAME).exists()  # nothing to back up


def _fail_at(monkeypatch: pytest.MonkeyPatch, index: int, exc: BaseException) -> list[str]:
    """Make the migration's step ``index`` raise ``exc``; returns the steps run before it."""
    ran: list[str] = []
    real = storeschema._step

    def step(db: sqlite3.Connection, sql: str) -> None:
        if len(ran) == index:
            raise exc
        real(db, sql)
        ran.append(sql)

    monkeypatch.setattr(storeschema, "_step", step)
    return ran


@pytest.mark.parametrize("exc", [sqlite3.OperationalError("disk I/O error"),
                                 KeyboardInterrupt()], ids=["sqlite-error", "ctrl-c"])
def test_a_migration_failing_halfway_leaves_the_version_1_store(tmp_path, monkeypatch, exc):
    root = make_v1_store(tmp_path / "st")
    before = _raw(root)
    halfway = len(STEPS_1_TO_2) // 2
    ran = _fail_at(monkeypatch, halfway, exc)
    if isinstance(exc, sqlite3.Error):
        with pytest.raises(UsageError) as err:
            Store(root)
        assert err.value.message.startswith(
            "migrating the store from schema version 1 to 2 failed and was rolled back")
        assert "still version 1" in (err.value.hint or "")
    else:
        with pytest.raises(KeyboardInterrupt):
            Store(root)
    assert len(ran) == halfway  # three columns were added before the failure ...
    assert _raw(root) == before  # ... and rolled back: the intact version-1 store
    monkeypatch.undo()
    store = Store(root)  # the next open migrates it
    assert _raw(root)[0] == 2 and len(list(store.records("r1"))) == 2
    store.close()


KILL_HALFWAY = """
import os, signal, sys
from harness import storeschema
from harness.store import Store
ran = []
real = storeschema._step
def step(db, sql):
    if len(ran) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    real(db, sql)
    ran.append(sql)
storeschema._step = step
Store(sys.argv[1])
"""


def test_a_migration_killed_halfway_leaves_the_version_1_store(tmp_path):
    root = make_v1_store(tmp_path / "st")
    before = _raw(root)
    done = subprocess.run([sys.executable, "-c", KILL_HALFWAY, str(root)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == -9, done.stderr
    assert _raw(root) == before
    Store(root).close()
    assert _raw(root)[0] == 2


def _digest_dir(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


@pytest.mark.parametrize("wal", [True, False], ids=["wal", "rollback-journal"])
def test_a_store_from_a_newer_tunegate_is_not_touched(tmp_path, wal):
    root = make_v1_store(tmp_path / "st", wal=wal)
    db = sqlite3.connect(root / "store.sqlite")
    db.execute("UPDATE schema_version SET version = 3")
    db.commit()
    db.close()
    before = _digest_dir(root)
    with pytest.raises(UsageError) as err:
        Store(root)
    assert err.value.message == ("store schema version 3 is newer than this tunegate's (2); "
                                 "the store was left untouched")
    assert err.value.path == str(root / "store.sqlite")
    assert _digest_dir(root) == before  # same files, same bytes: no WAL switch, no backup


def test_newer_store_is_one_line_exit_2(tmp_path, capsys):
    root = make_v1_store(tmp_path / "st")
    db = sqlite3.connect(root / "store.sqlite")
    db.execute("UPDATE schema_version SET version = 7")
    db.commit()
    db.close()
    for argv in (["report"], ["score"], ["history"]):
        assert main([*argv, "--store", str(root)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"{root / 'store.sqlite'}: store schema version 7 is newer")


def test_a_file_that_is_not_a_store_is_a_user_error(tmp_path):
    root = tmp_path / "st"
    root.mkdir()
    (root / "store.sqlite").write_bytes(b"not a database, just some bytes" * 100)
    with pytest.raises(UsageError, match="cannot read the store"):
        Store(root)


def test_a_backup_that_cannot_be_written_stops_before_any_change(tmp_path):
    root = make_v1_store(tmp_path / "st")
    before = _raw(root)
    (root / BACKUP_NAME).mkdir()  # the copy cannot be renamed into place
    with pytest.raises(UsageError) as err:
        Store(root)
    assert err.value.message.startswith("cannot back up the version-1 store before migrating")
    assert err.value.path == str(root / BACKUP_NAME)
    assert _raw(root) == before
    assert sorted(p.name for p in root.iterdir() if p.name.endswith(".tmp")) == []


OPEN = "import sys; from harness.store import Store; Store(sys.argv[1]).close()"


def test_two_processes_opening_one_version_1_store_migrate_it_once(tmp_path):
    root = make_v1_store(tmp_path / "st")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, str(root)], cwd=ROOT, env=env,
                              stderr=subprocess.PIPE) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    version, cols, _, n = _raw(root)
    assert (version, n) == (2, 2) and cols.count("input") == 1
    assert _raw(_backup_dir(root))[0] == 1  # the backup is the version-1 store, whoever won
