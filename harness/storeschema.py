"""The store's SQLite schema, its version check and the migration from version 1.

Version 2 makes the store the whole record: each record keeps its input,
the example's fields, the rendered prompt (by digest, in ``prompts``) and
the identity (name, arguments, version) of the scorers that produced its
scores (by digest, in ``scorer_sets``). Version-1 records have none of
these: after the migration those columns are NULL, meaning *unknown*.

Opening a store (:func:`open_schema`):

- no schema yet: the version-2 tables are created, in one transaction;
- version 2: nothing to do;
- version 1: the file is first copied to ``store.v1-backup.sqlite`` beside
  it (SQLite's online backup, a consistent snapshot), then migrated in one
  ``BEGIN IMMEDIATE`` transaction: any failure rolls every step back and
  leaves the version-1 store as it was, and the next open tries again;
- a version greater than 2 (a newer tunegate): refused before anything is
  written, not even the journal mode.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from types import TracebackType

from harness.errors import UsageError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
BACKUP_NAME = "store.v1-backup.sqlite"

V1_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT NOT NULL,
    latency_s REAL NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created TEXT NOT NULL,
    finished TEXT,
    status TEXT NOT NULL,
    pid INTEGER,
    config_path TEXT NOT NULL,
    config_digest TEXT NOT NULL,
    config TEXT NOT NULL,
    model_calls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    task_digest TEXT NOT NULL,
    variant TEXT NOT NULL,
    model TEXT NOT NULL,
    split TEXT NOT NULL,
    example_id TEXT NOT NULL,
    sample INTEGER NOT NULL,
    target TEXT NOT NULL,
    output TEXT NOT NULL,
    scores TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    latency_s REAL NOT NULL,
    cached INTEGER NOT NULL,
    error TEXT,
    created TEXT NOT NULL,
    PRIMARY KEY (run_id, task, variant, model, split, example_id, sample)
);
CREATE TABLE IF NOT EXISTS searches (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, model)
);
CREATE TABLE IF NOT EXISTS trainings (
    run_id TEXT NOT NULL,
    task TEXT NOT NULL,
    variant TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, task, variant)
);
"""
"""Version 1's tables, exactly as tunegate wrote them (kept for the migration's tests)."""

STEPS_1_TO_2: tuple[str, ...] = (
    # input/fields: the example as the model saw it; NULL = unknown (a version-1 record)
    "ALTER TABLE records ADD COLUMN input TEXT",
    "ALTER TABLE records ADD COLUMN fields TEXT",
    # the rendered prompt and system prompt as sent, by digest (deduplicated)
    "ALTER TABLE records ADD COLUMN prompt_digest TEXT",
    "CREATE TABLE IF NOT EXISTS prompts (digest TEXT PRIMARY KEY, prompt TEXT NOT NULL,"
    " system TEXT NOT NULL)",
    # name -> {args, version} of each scorer of the record's scores, by digest
    "ALTER TABLE records ADD COLUMN scorers_digest TEXT",
    "CREATE TABLE IF NOT EXISTS scorer_sets (digest TEXT PRIMARY KEY, scorers TEXT NOT NULL)",
    "UPDATE schema_version SET version = 2",
)
"""The migration's statements, run in order inside one transaction."""


def _version(db: sqlite3.Connection) -> int | None:
    """The stored schema version, or None for a store without one yet (read only)."""
    has = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table'"
                     " AND name = 'schema_version'").fetchone()
    if has is None:
        return None
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return None if row[0] is None else int(row[0])


def open_schema(db: sqlite3.Connection, path: Path) -> None:
    """Bring the store at ``path`` (open as ``db``, autocommit) to :data:`SCHEMA_VERSION`.

    Raises:
        UsageError: A store written by a newer tunegate (left untouched), a
            store that cannot be read, or a migration that failed (rolled
            back: the store is still version 1).
    """
    try:
        version = _version(db)
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"cannot read the store: {exc}", path,
                         hint="is it a tunegate store? move it away to start a new one"
                         ) from None
    _refuse_newer(version, path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=30000")
    if version == 1:
        migrate(db, path)
    elif version is None:
        _create(db, path)


def _refuse_newer(version: int | None, path: Path) -> None:
    if version is not None and version > SCHEMA_VERSION:
        raise UsageError(f"store schema version {version} is newer than this tunegate's "
                         f"({SCHEMA_VERSION}); the store was left untouched", path,
                         hint="upgrade tunegate (pip install -U tunegate) or pass another "
                         "--store")


def _create(db: sqlite3.Connection, path: Path) -> None:
    """Create the version-2 tables; two processes creating one store write one version row."""
    with _Transaction(db, path, "creating the store", "check free disk space and permissions"):
        if _version(db) is None:
            for statement in V1_SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            for step in STEPS_1_TO_2[:-1]:
                db.execute(step)
            db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Migrate a version-1 store to version 2: a backup copy, then one transaction.

    Raises:
        UsageError: The backup or a step failed; the store is unchanged (version 1).
    """
    backup = path.parent / BACKUP_NAME
    if not _back_up(db, backup):
        return  # another process migrated it while we copied
    with _Transaction(db, path, "migrating the store from schema version 1 to 2",
                      f"the store is unchanged (still version 1) and a copy is {backup}; "
                      "check free disk space and permissions, then run again"):
        if _version(db) == 1:  # another process may have migrated it meanwhile
            for step in STEPS_1_TO_2:
                _step(db, step)
            log.info("migrated %s to schema version 2; the version-1 copy is %s",
                     path, backup)


def _back_up(db: sqlite3.Connection, backup: Path) -> bool:
    """Copy the store to ``backup`` if it is still version 1; False when it no longer is.

    The copy is written under a temporary name and only renamed into place
    once it reads as version 1, so two processes opening one version-1 store
    never leave an already-migrated copy as the backup.

    Raises:
        UsageError: The copy cannot be written (the store is not changed).
    """
    tmp = backup.with_name(f"{backup.name}.{os.getpid()}.tmp")
    try:
        copy = sqlite3.connect(tmp)
        try:
            db.backup(copy)
            still_v1 = _version(copy) == 1
        finally:
            copy.close()
        if still_v1:
            os.replace(tmp, backup)
        else:
            tmp.unlink()
    except (OSError, sqlite3.Error) as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot back up the version-1 store before migrating it: {exc}",
                         backup, hint="check free disk space and permissions; the store "
                         "was not changed") from None
    return still_v1


def _step(db: sqlite3.Connection, sql: str) -> None:
    """Run one migration step (its own function so a test can fail one halfway)."""
    db.execute(sql)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; any exception rolls back (and says so)."""

    def __init__(self, db: sqlite3.Connection, path: Path, what: str, hint: str) -> None:
        self.db, self.path, self.what, self.hint = db, path, what, hint

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.db.execute("COMMIT")
            return
        self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise UsageError(f"{self.what} failed and was rolled back: {exc}", self.path,
                             hint=self.hint) from None
