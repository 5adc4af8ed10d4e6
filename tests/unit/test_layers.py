"""The import layering of pyproject.toml's [tool.importlinter] holds (issue 15).

Runs import-linter's two contracts (the layers, and no import cycles at any
depth, imports inside function bodies included) over this checkout's
``harness``; a module importing from a layer above its own, or any cycle,
fails this test with import-linter's report of the offending import.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cli = pytest.importorskip("importlinter.cli")
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(os.fspath(ROOT))
    rc = cli.lint_imports(config_filename=os.fspath(ROOT / "pyproject.toml"), no_cache=True,
                          no_logo=True)
    out = capsys.readouterr().out
    assert "2 kept, 0 broken" in out, out
    assert rc == 0, out
