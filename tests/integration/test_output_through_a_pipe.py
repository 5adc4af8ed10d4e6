"""The real model through a pipe: a multi-task run whose models load in several threads.

``tunegate run CONFIG 2>&1 | cat`` once printed nothing at all: two threads
loaded llama.cpp models at once and their /dev/null redirects of descriptors
1 and 2 interleaved. The summary (table, headline, paths) must arrive.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from mixedkit import env, write_mixed  # noqa: E402

pytestmark = pytest.mark.integration


def test_multi_task_embedded_run_through_a_pipe_prints_its_summary(tmp_path: Path) -> None:
    cfg = write_mixed(tmp_path, n_test=8)
    text = cfg.read_text().replace("models: ['fake:keyword']\nconcurrency: 2",
                                   "models: [embedded]\nconcurrency: 4")
    cfg.write_text(text + "limit: {dev: 4, test: 8}\n")
    done = subprocess.run([sys.executable, "-m", "harness.cli", "run", cfg.name, "--store",
                           "st", "--reports", "rep"], cwd=tmp_path, env=env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
                          check=False)
    out = done.stdout.decode()
    assert done.returncode == 0, out
    lines = out.splitlines()
    assert any(x.startswith("ran run ") for x in lines), out
    assert any(x.startswith("alpha_route ") for x in lines) and any(
        x.startswith("beta_route ") for x in lines), out
    assert any(x.startswith("report: rep/") and x.endswith("/index.html") for x in lines), out
    assert "llama" not in out.lower()  # llama.cpp's own log lines went to the log file
