"""Unit-test builders: a tiny task, variant and run config written to ``tmp_path``.

The toy task has labels ALPHA and BETA; each message names one of them, so
the ``fake:keyword`` backend (which prefers a label that appears near the end
of the prompt) predicts whatever label the message names. Two test messages
name the wrong label, so ``echo`` scores 4/6 on test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.store import Store

TASK_YAML = """\
name: toy
family: classification
description: Route a toy message.
data:
  columns: {id: id, input: text, target: label}
  files:
    train: data/train.jsonl
    dev: data/dev.jsonl
    test: data/test.jsonl
labels:
  ALPHA: the first kind
  BETA: the second kind
metric: accuracy
"""

RUN_YAML = """\
name: toyrun
seed: 7
tasks:
  - task.yaml
variants:
  - echo.yaml
models:
  - fake:keyword
concurrency: 2
analysis: {resamples: 200}
"""

ECHO_TEMPLATE = "Message: {{ input }}\nAnswer:"


def _row(prefix: str, i: int, gold: str, named: str) -> dict[str, str]:
    return {"id": f"{prefix}{i}", "text": f"{prefix} message {i} is about {named}", "label": gold}


# (gold label, label named in the text) per example.
TRAIN = [("ALPHA", "ALPHA"), ("BETA", "BETA")] * 4
DEV = [("ALPHA", "ALPHA"), ("BETA", "BETA"), ("ALPHA", "ALPHA"), ("BETA", "BETA")]
TEST = [("ALPHA", "ALPHA"), ("BETA", "BETA"), ("ALPHA", "ALPHA"), ("BETA", "BETA"),
        ("ALPHA", "BETA"), ("BETA", "ALPHA")]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> Path:
    """Write ``rows`` as JSONL, creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(dict(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Project:
    """Paths of a toy project in ``tmp_path``."""

    root: Path
    task: Path
    variant: Path
    config: Path
    data: Path

    def write(self, name: str, text: str) -> Path:
        """Write a file relative to the project root."""
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def split(self, name: str, pairs: Iterable[tuple[str, str]], prefix: str) -> Path:
        """Rewrite one split's data from (gold, named) pairs."""
        rows = [_row(prefix, i, gold, named) for i, (gold, named) in enumerate(pairs)]
        return write_jsonl(self.data / f"{name}.jsonl", rows)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    data = root / "data"
    proj = Project(root, root / "task.yaml", root / "echo.yaml", root / "run.yaml", data)
    proj.split("train", TRAIN, "tr")
    proj.split("dev", DEV, "dv")
    proj.split("test", TEST, "te")
    proj.write("task.yaml", TASK_YAML)
    proj.write("echo.j2", ECHO_TEMPLATE)
    proj.write("echo.yaml", "name: echo\ntemplate: echo.j2\n")
    proj.write("run.yaml", RUN_YAML)
    return proj


@pytest.fixture
def edit() -> Callable[[Path, str, str], Path]:
    """Replace one exact substring in a file (fails loudly if it is absent)."""

    def _edit(path: Path, old: str, new: str) -> Path:
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} not found exactly once in {path}"
        path.write_text(text.replace(old, new), encoding="utf-8")
        return path

    return _edit


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An empty store under ``tmp_path / "store"``, closed after the test."""
    s = Store(tmp_path / "store")
    yield s
    s.close()
