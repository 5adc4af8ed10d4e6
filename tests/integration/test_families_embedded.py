"""The generation families on the real embedded model: stop sequences, budgets, parsing."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_few_shot_format_and_terminology_on_the_embedded_model(tmp_path: Path) -> None:
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "name: families\nseed: 13\n"
        f"tasks: [{ROOT / 'tasks/support_record.yaml'}, {ROOT / 'tasks/ops_acronyms.yaml'}]\n"
        f"variants: [{ROOT / 'baselines/few_shot.yaml'}]\n"
        "models: [embedded]\nsplits: [test]\nlimit: {test: 3}\nconcurrency: 1\n")
    store = tmp_path / "store"
    assert main(["run", str(cfg), "--store", str(store), "--reports",
                 str(tmp_path / "reports")]) == 0
    con = sqlite3.connect(store / "store.sqlite")
    rows = con.execute("select task, output, scores, completion_tokens from records").fetchall()
    assert len(rows) == 6
    for task, output, scores, completion in rows:
        out, sc = json.loads(output), json.loads(scores)
        assert "\n" not in out["text"]  # generation stopped at the task's stop sequence
        budget = 160 if task == "support_record" else 16
        assert 0 < completion <= budget
        assert out["detail"]["mode"] == "generate"
        if task == "support_record":
            assert set(sc) >= {"field_f1", "schema_valid", "parse_strict", "parse_lenient"}
            if out["prediction"] is not None:  # the parsed object is stored next to the raw
                assert isinstance(json.loads(out["prediction"]), dict)
        else:
            assert set(sc) == {"expansion_accuracy", "required_term_recall",
                               "forbidden_term_rate"}
    results = json.loads(next((tmp_path / "reports").glob("*/results.json")).read_text())
    assert [t["scorer"] for t in results["tasks"]] == ["field_f1", "expansion_accuracy"]
