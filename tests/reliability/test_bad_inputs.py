"""The bad-input corpus: every user mistake in tests/bad_inputs/ gets one located line, exit 2.

Each case is a directory holding only the files the user wrote wrong; they are
laid over the small valid project in ``tests/bad_inputs/_base/`` (``delete``
removes base files, ``env`` sets or unsets variables, ``requires`` names modules
without which the case is skipped) and the case's command
runs in-process in a copy of it.
``case.yaml`` says what the user did wrong (``what``), the command (``argv``)
and what the one line must name: the file (``file``, with ``line`` when the
mistake has one), the field or value (``field``) and the cause (``expect``).
A message that names no file, field or cause fails here.
"""

from __future__ import annotations

import re
import shutil
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "bad_inputs"
BASE = CORPUS / "_base"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.yaml").is_file())
PROGRESS_LINE = re.compile(r"\d\d:\d\d:\d\d "
                           r"(starting run|resuming run|start |done  |progress: |train )")
KEYS = {"what", "argv", "file", "line", "field", "expect", "delete", "env", "requires"}


def _load(name: str) -> dict[str, Any]:
    case: dict[str, Any] = yaml.safe_load((CORPUS / name / "case.yaml").read_text())
    assert set(case) <= KEYS, f"{name}: unknown keys {set(case) - KEYS}"
    for key in ("what", "argv", "file", "expect"):
        assert case.get(key), f"{name}/case.yaml must say {key!r}"
    return case


def _project(name: str, case: dict[str, Any], tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    shutil.copytree(BASE, proj)
    shutil.copytree(CORPUS / name, proj, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("case.yaml"))
    for rel in case.get("delete", []):
        (proj / rel).unlink()
    return proj


def test_corpus_is_large_enough_and_base_is_valid(monkeypatch, capsys) -> None:
    assert len(CASES) >= 30
    monkeypatch.chdir(BASE)
    code = main(["validate", "task.yaml", "echo.yaml", "run.yaml"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.count(": ok: ") == 3


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    case = _load(name)
    for module in case.get("requires", []):  # e.g. the embedded model's package
        pytest.importorskip(module)
    proj = _project(name, case, tmp_path)
    monkeypatch.chdir(proj)
    monkeypatch.delenv("TUNEGATE_STORE", raising=False)
    for var, value in (case.get("env") or {}).items():  # null: the user never set it
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, str(value))
    try:
        code = main([str(a) for a in case["argv"]])
    except SystemExit as exc:  # argparse rejected the command line itself
        code = exc.code
    except Exception:  # a traceback: tunegate treated a user mistake as a bug
        pytest.fail(f"{name}: traceback instead of a message:\n{traceback.format_exc()}")
    out, err = capsys.readouterr()
    if code == 70:  # the CLI caught a crash and wrote its traceback to the log it names
        log = err.split("traceback in ", 1)[-1].split("; please report it", 1)[0]
        pytest.fail(f"{name}: traceback instead of a message:\n"
                    f"{Path(log).read_text() if Path(log).is_file() else err}")
    assert "Traceback" not in out + err
    assert code == 2, (code, out, err)
    # Without a terminal the run's progress lines (timestamped) may come first.
    *before, line = err.rstrip("\n").split("\n")
    extra = [x for x in before if not PROGRESS_LINE.match(x)]
    assert err.endswith("\n") and not extra, f"not exactly one line: {err!r}"
    where = str(case["file"]) + (f":{case['line']}:" if "line" in case else "")
    assert where in line, f"{name}: message does not name {where!r}: {line}"
    if "field" in case:
        assert str(case["field"]) in line, f"{name}: message does not name the field: {line}"
    assert str(case["expect"]) in line, f"{name}: message does not give the cause: {line}"
