"""The SQLite store: response cache, runs and per-example records.

The store is the only state. ``tunegate score`` and ``tunegate report``
rebuild everything from it with zero model calls, and an interrupted run
resumes from it. Every record is committed as it finishes (WAL mode), so a
killed process loses at most the requests in flight.

One connection serves all of a process's threads, one statement at a time
(reads are fetched whole under the lock): a write issued while another
thread's read is still open would run inside that read's snapshot and, once
another process has committed, fail at once with "database is locked"
instead of waiting for the busy timeout. Other processes wait up to 30 s.

Each record is the whole record of its example (schema version 2): input,
target, rendered prompt, output with any retrieved passages, scores and the
identity of the scorers behind them. The schema, its version check and the
migration of version-1 stores are in :mod:`harness.storeschema`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.storeschema import SCHEMA_VERSION, open_schema

__all__ = ["SCHEMA_VERSION", "Record", "RunRow", "Store", "cache_key", "now", "text_digest"]


def now() -> str:
    """UTC timestamp in ISO format."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def cache_key(identity: Mapping[str, Any], kind: str, request: Mapping[str, Any],
              sample: int = 0) -> str:
    """SHA-256 over backend identity, request kind, the full request and sample index."""
    blob = json.dumps({"identity": identity, "kind": kind, "request": request,
                       "sample": sample}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class RunRow:
    """One run as stored."""

    run_id: str
    created: str
    finished: str | None
    status: str
    config_path: str
    config_digest: str
    config: dict[str, Any]
    model_calls: int


@dataclass(frozen=True)
class Record:
    """One scored (task, variant, model, split, example, sample).

    The fields after ``error`` make the record whole (store schema version 2):
    ``input`` and ``fields`` are the example as the model saw it, ``prompt``
    and ``system`` the rendered prompt as sent, ``scorers`` each scorer's
    ``{"args": ..., "version": ...}`` by name (these three are None for a
    failed example, which has no output or scores). On a record from a
    version-1 store all five are None: unknown, never empty.
    """

    run_id: str
    task: str
    task_digest: str
    variant: str
    model: str
    split: str
    example_id: str
    sample: int
    target: str
    output: dict[str, Any]
    scores: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool
    error: str | None
    input: str | None = None
    fields: dict[str, Any] | None = None
    prompt: str | None = None
    system: str | None = None
    scorers: dict[str, Any] | None = None

    @property
    def passages(self) -> list[Any]:
        """The passages a RAG variant retrieved for this example (kept in the output's detail)."""
        detail = self.output.get("detail")
        found = detail.get("passages") if isinstance(detail, Mapping) else None
        return list(found) if isinstance(found, list) else []


def text_digest(*parts: str) -> str:
    """SHA-256 of the parts (JSON-encoded, so the split between them counts)."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False,
                                                  default=str)


def _loads_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


_RECORD_COLUMNS = ("run_id, task, task_digest, variant, model, split, example_id, sample,"
                   " target, output, scores, prompt_tokens, completion_tokens, latency_s,"
                   " cached, error, created, input, fields, prompt_digest, scorers_digest")


class Store:
    """The SQLite file under ``.tunegate/`` (or wherever the config says).

    Args:
        root: The store directory; created if missing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.path = self.root / "store.sqlite"
        self._lock = threading.RLock()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                       check_same_thread=False)
        except (OSError, sqlite3.OperationalError) as exc:
            raise UsageError(f"cannot open the store: {exc}", self.root,
                             hint="check that the directory is writable and the disk not full"
                             ) from None
        try:
            open_schema(self._db, self.path)
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise UsageError(f"cannot open the store: {exc}", self.root,
                             hint="check that the directory is writable and the disk not full"
                             ) from None
        except BaseException:
            self._db.close()
            raise

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """All rows of one query, fetched while holding the connection."""
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        try:
            with self._lock:
                self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise UsageError(f"cannot write to the store: {exc}", self.path,
                             hint="check free disk space and permissions; "
                             "finished results are kept") from None

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    # -- response cache -------------------------------------------------
    def get_response(self, key: str) -> dict[str, Any] | None:
        """Return the cached response for ``key``, with its latency, or ``None``."""
        rows = self._read("SELECT response, latency_s FROM responses WHERE key = ?", (key,))
        if not rows:
            return None
        row = rows[0]
        out: dict[str, Any] = json.loads(row[0])
        out["_latency_s"] = row[1]
        return out

    def put_response(self, key: str, kind: str, identity: Mapping[str, Any],
                     request: Mapping[str, Any], response: Mapping[str, Any],
                     latency_s: float, replace: bool = False) -> None:
        """Cache a response (first writer wins, unless ``replace``: a fresh run)."""
        verb = "REPLACE" if replace else "IGNORE"
        self._write(
            f"INSERT OR {verb} INTO responses VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, kind, json.dumps(identity, sort_keys=True), json.dumps(request),
             json.dumps(response), latency_s, now()))

    # -- runs -----------------------------------------------------------
    def create_run(self, run_id: str, config_path: str, config_digest: str,
                   config: Mapping[str, Any]) -> None:
        """Start a run."""
        self._write(
            "INSERT INTO runs (run_id, created, status, pid, config_path, config_digest, config)"
            " VALUES (?, ?, 'running', ?, ?, ?, ?)",
            (run_id, now(), os.getpid(), config_path, config_digest, json.dumps(config)))

    def claim_run(self, run_id: str) -> None:
        """Mark an unfinished run as being resumed by this process."""
        self._write("UPDATE runs SET pid = ?, status = 'running' WHERE run_id = ?",
                    (os.getpid(), run_id))

    def finish_run(self, run_id: str, status: str, model_calls: int) -> None:
        """Record the end of a run and how many model calls it made in total."""
        self._write("UPDATE runs SET finished = ?, status = ?, model_calls = model_calls + ?"
                    " WHERE run_id = ?", (now(), status, model_calls, run_id))

    def resumable_run(self, config_digest: str) -> str | None:
        """Return the newest unfinished run of this config whose process is gone."""
        rows = self._read(
            "SELECT run_id, pid FROM runs WHERE config_digest = ? AND status != 'done'"
            " ORDER BY created DESC, rowid DESC", (config_digest,))
        for run_id, pid in rows:
            if pid is None or pid == os.getpid() or not _alive(pid):
                return str(run_id)
        return None

    def runs(self) -> list[RunRow]:
        """All runs, oldest first."""
        rows = self._read(
            "SELECT run_id, created, finished, status, config_path, config_digest, config,"
            " model_calls FROM runs ORDER BY created, rowid")
        return [RunRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
                for r in rows]

    def get_run(self, run_id: str) -> RunRow:
        """Return one run; ``latest`` means the newest.

        Raises:
            UsageError: No such run; the message lists the available ids.
        """
        runs = self.runs()
        if run_id == "latest" and runs:
            return runs[-1]
        for run in runs:
            if run.run_id == run_id:
                return run
        ids = ", ".join(r.run_id for r in runs[-10:]) or "none yet: run `tunegate run` first"
        raise UsageError(f"no run {run_id!r} in the store", self.path, hint=f"runs: {ids}")

    # -- records --------------------------------------------------------
    def done_keys(self, run_id: str) -> set[tuple[str, str, str, str, str, int]]:
        """Keys of records already stored for ``run_id`` (errors excluded)."""
        rows = self._read(
            "SELECT task, variant, model, split, example_id, sample FROM records"
            " WHERE run_id = ? AND error IS NULL", (run_id,))
        return {(r[0], r[1], r[2], r[3], r[4], int(r[5])) for r in rows}

    def put_record(self, rec: Record) -> None:
        """Store (or replace, e.g. after a retried error) one record and commit.

        Its prompt and scorer set go to their own tables first, once per
        digest; the record references them.
        """
        prompt_digest = scorers_digest = None
        if rec.prompt is not None:
            prompt_digest = text_digest(rec.system or "", rec.prompt)
            self._write("INSERT OR IGNORE INTO prompts VALUES (?, ?, ?)",
                        (prompt_digest, rec.prompt, rec.system or ""))
        if rec.scorers is not None:
            blob = json.dumps(rec.scorers, sort_keys=True, ensure_ascii=False)
            scorers_digest = text_digest(blob)
            self._write("INSERT OR IGNORE INTO scorer_sets VALUES (?, ?)",
                        (scorers_digest, blob))
        self._write(
            f"INSERT OR REPLACE INTO records ({_RECORD_COLUMNS}) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.run_id, rec.task, rec.task_digest, rec.variant, rec.model, rec.split,
             rec.example_id, rec.sample, rec.target, json.dumps(rec.output),
             json.dumps(rec.scores), rec.prompt_tokens, rec.completion_tokens,
             rec.latency_s, int(rec.cached), rec.error, now(), rec.input,
             _json_or_none(rec.fields), prompt_digest, scorers_digest))

    def records(self, run_id: str) -> Iterator[Record]:
        """Every record of a run, in a stable order, with its prompt and scorer set."""
        rows = self._read(
            "SELECT r.run_id, task, task_digest, variant, model, split, example_id, sample,"
            " target, output, scores, prompt_tokens, completion_tokens, latency_s, cached,"
            " error, input, fields, p.prompt, p.system, s.scorers FROM records r"
            " LEFT JOIN prompts p ON p.digest = r.prompt_digest"
            " LEFT JOIN scorer_sets s ON s.digest = r.scorers_digest WHERE r.run_id = ?"
            " ORDER BY task, variant, model, split, example_id, sample", (run_id,))
        for r in rows:
            yield Record(r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), r[8],
                         json.loads(r[9]), json.loads(r[10]), int(r[11]), int(r[12]),
                         float(r[13]), bool(r[14]), r[15], r[16], _loads_or_none(r[17]),
                         r[18], r[19], _loads_or_none(r[20]))

    def put_training(self, run_id: str, task: str, variant: str,
                     record: Mapping[str, Any]) -> None:
        """Remember the training record of the adapter a lora variant used."""
        self._write("INSERT OR REPLACE INTO trainings VALUES (?, ?, ?, ?)",
                    (run_id, task, variant, json.dumps(dict(record))))

    def trainings(self, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Training records of a run by (task, variant)."""
        rows = self._read("SELECT task, variant, record FROM trainings WHERE run_id = ?",
                          (run_id,))
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    def dev_results(self, run_id: str, task: str, variant: str, model: str, scorer: str
                    ) -> dict[str, tuple[float, int]]:
        """One variant's dev results: example id -> (mean ``scorer`` value, tokens used).

        Samples of an example are averaged; failed records are left out; a
        missing score is NaN.
        """
        rows = self._read(
            "SELECT example_id, scores, prompt_tokens + completion_tokens FROM records"
            " WHERE run_id = ? AND task = ? AND variant = ? AND model = ? AND split = 'dev'"
            " AND error IS NULL", (run_id, task, variant, model))
        acc: dict[str, list[tuple[float, int]]] = {}
        for ex, scores, tokens in rows:
            value = json.loads(scores).get(scorer, {}).get("value")
            acc.setdefault(ex, []).append(
                (float("nan") if value is None else float(value), int(tokens)))
        out = {}
        for ex, got in acc.items():
            vals = [v for v, _ in got if v == v]
            out[ex] = (sum(vals) / len(vals) if vals else float("nan"),
                       sum(t for _, t in got))
        return out

    def put_search(self, run_id: str, task: str, model: str, record: Mapping[str, Any]) -> None:
        """Remember what a task's prompt search did (rounds, spend, winner)."""
        self._write("INSERT OR REPLACE INTO searches VALUES (?, ?, ?, ?)",
                    (run_id, task, model, json.dumps(dict(record))))

    def searches(self, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Prompt-search records of a run by (task, model)."""
        rows = self._read("SELECT task, model, record FROM searches WHERE run_id = ?",
                          (run_id,))
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
