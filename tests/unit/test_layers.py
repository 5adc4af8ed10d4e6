"""The import layering of pyproject.toml's [tool.importlinter] holds (issue 15).

Runs import-linter's two contracts (the layers, and no import cycles at any
depth, imports inside function bodies included) over this checkout's
``harness``; a module importing from a layer above its own, or any cycle,
fails this test with import-linter's report of the offending import. In a
subprocess: import-linter configures logging with ``dictConfig``, which would
disable every logger already created in this process (and so other tests'
``caplog`` checks).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ("import sys; from importlinter.cli import lint_imports; "
       "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))")


def test_the_import_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.fspath(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", RUN], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert "2 kept, 0 broken" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
