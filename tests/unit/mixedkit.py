"""A two-task project on the fake backend whose tasks get different verdicts, and a CLI runner.

``alpha_route``: on test every message names its gold label, so the ``echo``
prompt (the candidate; the fake model picks the label the message names)
scores 100% against the ``blind`` baseline (chosen on dev, where the messages
name the wrong label and echo scores 0%): FINE-TUNE JUSTIFIED.
``beta_route``: on test every message names the wrong label, so echo scores
0%: NOT JUSTIFIED: gain too small. The run's headline is therefore
:data:`HEADLINE`, and the gate fails (exit 1) because one task fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HEADLINE = ("MIXED: fine-tuning justified on 1 of 2 tasks; beta_route: not justified "
            "(gain too small)")
GATE_LINE = ("gate: fails (exit 1) because 1 task fails (it passes only when every task "
             "justifies fine-tuning)")


def _rows(split: str, n: int, right: bool) -> str:
    out = []
    for i in range(n):
        gold = "ALPHA" if i % 2 == 0 else "BETA"
        named = gold if right else ("BETA" if gold == "ALPHA" else "ALPHA")
        out.append(json.dumps({"id": f"{split}{i}", "text": f"note {i} about {named}",
                               "label": gold}))
    return "\n".join(out) + "\n"


def write_mixed(root: Path, n_test: int = 30) -> Path:
    """Write the project under ``root``; returns the run config (``mixed.yaml``)."""
    for name, right_on_test in (("alpha_route", True), ("beta_route", False)):
        data = root / name
        data.mkdir(parents=True)
        (data / "train.jsonl").write_text(_rows("tr", 8, True))
        (data / "dev.jsonl").write_text(_rows("dv", 12, False))
        (data / "test.jsonl").write_text(_rows("te", n_test, right_on_test))
        (root / f"{name}.yaml").write_text(
            f"name: {name}\nfamily: classification\ndata:\n  columns: {{id: id, input: text, "
            f"target: label}}\n  files: {{train: {name}/train.jsonl, dev: {name}/dev.jsonl, "
            f"test: {name}/test.jsonl}}\nlabels: [ALPHA, BETA]\n")
    (root / "echo.j2").write_text("Message: {{ input }}\nAnswer:")
    (root / "blind.j2").write_text("Answer:")
    (root / "echo.yaml").write_text("name: echo\ntemplate: echo.j2\n")
    (root / "blind.yaml").write_text("name: blind\ntemplate: blind.j2\n")
    cfg = root / "mixed.yaml"
    cfg.write_text("name: mixed\nseed: 2\ntasks: [alpha_route.yaml, beta_route.yaml]\n"
                   "variants: [blind.yaml, echo.yaml]\nmodels: ['fake:keyword']\n"
                   "concurrency: 2\nanalysis: {resamples: 200}\n"
                   "decision: {candidate: echo, min_gain: 0.05}\n")
    return cfg


def env(**extra: str) -> dict[str, str]:
    """The environment of a ``tunegate`` subprocess: this checkout first on the path."""
    out = dict(os.environ)
    for key in ("TUNEGATE_STORE", "NO_COLOR", "COLUMNS", "TQDM_DISABLE",
                "HF_HUB_DISABLE_PROGRESS_BARS"):
        out.pop(key, None)
    out["PYTHONPATH"] = os.pathsep.join([str(ROOT), out.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    out.update(extra)
    return out


def start(args: list[str], cwd: Path, extra_env: dict[str, str] | None = None,
          **kw: Any) -> subprocess.Popen[bytes]:
    """Start ``tunegate ARGS`` (``python -m harness.cli``) in ``cwd``."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=cwd,
                            env=env(**(extra_env or {})), stdin=subprocess.DEVNULL, **kw)


def results(reports: Path) -> dict[str, Any]:
    """The one run's results.json under ``reports``."""
    (run_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    data: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return data
