"""Helpers for the reliability tests: a small project, a tunegate subprocess, store readers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COUNTFAKE = HERE / "countfake.py"

TASK = """\
name: {name}
family: classification
description: Route a synthetic message.
data:
  columns: {{id: id, input: text, target: label}}
  files:
    train: data/train.jsonl
    dev: data/dev.jsonl
    test: data/test.jsonl
labels:
  ALPHA: the first kind
  BETA: the second kind
  GAMMA: the third kind
metric: accuracy
"""

LABELS = ("ALPHA", "BETA", "GAMMA")


def _rows(prefix: str, n: int) -> str:
    out = []
    for i in range(n):
        gold = LABELS[i % 3]
        named = LABELS[(i * 7 + len(prefix)) % 3] if i % 4 == 3 else gold  # some are misleading
        out.append(json.dumps({"id": f"{prefix}{i}", "label": gold,
                               "text": f"{prefix} message {i} asks about {named}"}))
    return "\n".join(out) + "\n"


def write_project(root: Path, *, n_test: int = 30, n_dev: int = 12, name: str = "synth",
                  model: str = "countfake:keyword", concurrency: int = 2,
                  seed: int = 3, run_name: str = "rel", calibrate: bool = True) -> Path:
    """A task (3 labels), a zero-shot and a (calibrated) 2-shot variant, and a run config."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "data/train.jsonl").write_text(_rows("tr", 9))
    (root / "data/dev.jsonl").write_text(_rows("dv", n_dev))
    (root / "data/test.jsonl").write_text(_rows("te", n_test))
    (root / "task.yaml").write_text(TASK.format(name=name))
    (root / "zero.j2").write_text("Message: {{ input }}\nAnswer:")
    (root / "few.j2").write_text(
        "{% for s in shots %}Message: {{ s.input }}\nAnswer: {{ s.target }}\n\n{% endfor %}"
        "Message: {{ input }}\nAnswer:")
    (root / "zero.yaml").write_text("name: zero\ntemplate: zero.j2\n")
    (root / "few.yaml").write_text(f"name: few\ntemplate: few.j2\nshots: 2\n"
                                   f"calibrate: {str(calibrate).lower()}\n")
    cfg = root / f"{run_name}.yaml"
    cfg.write_text(f"name: {run_name}\nseed: {seed}\ntasks: [task.yaml]\n"
                   f"variants: [zero.yaml, few.yaml]\nmodels: ['{model}']\n"
                   f"concurrency: {concurrency}\nanalysis: {{resamples: 200}}\n")
    return cfg


def tunegate(args: list[str], cwd: Path, env: dict[str, str] | None = None,
             **kw: Any) -> subprocess.Popen[bytes]:
    """Start ``tunegate ARGS`` (with the ``countfake`` backend registered) as a process."""
    full = dict(os.environ, **(env or {}))
    full.pop("TUNEGATE_STORE", None)
    return subprocess.Popen([sys.executable, str(COUNTFAKE), *args], cwd=cwd, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def run_ok(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``tunegate ARGS`` to the end; fail unless it exits 0; return its stdout."""
    proc = tunegate(args, cwd, env)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (proc.returncode, out.decode(), err.decode())
    return out.decode()


def query(db: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on the store, read by a separate connection ([] if not there yet)."""
    if not db.exists():
        return []
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # the tables are being created
        return []
    finally:
        con.close()


def records(db: Path, run_id: str | None = None) -> list[tuple[Any, ...]]:
    """Per-example records without what differs between runs (run id, time, latency, cached).

    The whole record: input, example fields, prompt and scorer-set digests included.
    """
    where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
    rows = query(db, "SELECT task, variant, model, split, example_id, sample, target, output,"
                 " scores, prompt_tokens, completion_tokens, error, input, fields,"
                 " prompt_digest, scorers_digest FROM records " + where +
                 " ORDER BY task, variant, model, split, example_id, sample", args)
    return [(*r[:7], json.loads(r[7]), json.loads(r[8]), *r[9:]) for r in rows]


def response_keys(db: Path) -> set[str]:
    """Keys of the responses in the store's cache."""
    return {r[0] for r in query(db, "SELECT key FROM responses")}


def call_log(path: Path) -> list[tuple[str, str]]:
    """(event, key) lines the countfake backend wrote."""
    if not path.exists():
        return []
    return [tuple(line.split(" ", 1)) for line in path.read_text().splitlines()
            if line.count(" ") == 1]  # type: ignore[misc]


def results_json(reports: Path) -> dict[str, Any]:
    """The single run's results.json under ``reports``."""
    (run_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    data: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return data
