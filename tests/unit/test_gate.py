"""The gate end to end on the fake backend: verdicts, exit codes, junit.xml, summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import harness
from harness.cli import main
from harness.errors import UsageError


def _project(root: Path, n_test: int = 30, economics: str = "") -> Path:
    data = root / "data"
    data.mkdir(parents=True)

    def rows(split: str, n: int, named: str) -> str:
        out = []
        for i in range(n):
            gold = "ALPHA" if i % 2 == 0 else "BETA"
            name = gold if named == "right" else ("BETA" if gold == "ALPHA" else "ALPHA")
            out.append(json.dumps({"id": f"{split}{i}", "text": f"note {i} about {name}",
                                   "label": gold}))
        return "\n".join(out) + "\n"

    (data / "train.jsonl").write_text(rows("tr", 8, "right"))
    # On dev the messages name the wrong label, so the echo prompt looks worst there;
    # on test they name the right one. The baseline must be chosen on dev regardless.
    (data / "dev.jsonl").write_text(rows("dv", 12, "wrong"))
    (data / "test.jsonl").write_text(rows("te", n_test, "right"))
    (root / "task.yaml").write_text(
        "name: toy\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        "target: label}\n  files: {train: data/train.jsonl, dev: data/dev.jsonl, "
        "test: data/test.jsonl}\nlabels: [ALPHA, BETA]\n")
    (root / "echo.j2").write_text("Message: {{ input }}\nAnswer:")
    (root / "blind.j2").write_text("Answer:")
    (root / "echo.yaml").write_text("name: echo\ntemplate: echo.j2\n")
    (root / "blind.yaml").write_text("name: blind\ntemplate: blind.j2\n")
    cfg = root / "gate.yaml"
    cfg.write_text("name: g\nseed: 2\ntasks: [task.yaml]\nvariants: [blind.yaml, echo.yaml]\n"
                   "models: ['fake:keyword']\ndecision: {candidate: echo, min_gain: 0.05}\n"
                   + economics)
    return cfg


def _gate(cfg: Path, *extra: str) -> int:
    return main(["gate", str(cfg), "--store", str(cfg.parent / "st"), "--reports",
                 str(cfg.parent / "rep"), *extra])


def _latest(cfg: Path) -> Path:
    return max((cfg.parent / "rep").iterdir(), key=lambda p: p.stat().st_mtime)


def test_justified_passes_with_junit_and_summary(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path)
    assert _gate(cfg) == 0
    out = capsys.readouterr().out
    assert "\nFINE-TUNE JUSTIFIED\ngate: passes (exit 0): the task justifies fine-tuning\n" in out
    out = _latest(cfg)
    res = json.loads((out / "results.json").read_text())
    (task,) = res["tasks"]
    assert task["baseline"] == "blind"  # chosen on dev, where echo is worse
    assert task["candidate"] == "echo" and task["verdict"]["label"] == "FINE-TUNE JUSTIFIED"
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    assert suite.find("testcase").get("name") == "toy"
    summary = (out / "summary.md").read_text()
    assert "## tunegate gate: FINE-TUNE JUSTIFIED" in summary
    assert "| toy | echo | blind |" in summary


def test_gain_too_small_fails_with_a_junit_failure(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path)
    assert _gate(cfg, "--min-gain", "0.95") == 1
    assert "NOT JUSTIFIED: gain too small" in capsys.readouterr().out
    failure = ET.parse(_latest(cfg) / "junit.xml").getroot().find("testcase/failure")
    assert failure is not None and "gain too small" in failure.get("message")


def test_straddling_interval_is_inconclusive_exit_3(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path)
    assert _gate(cfg) == 0
    cmp = json.loads((_latest(cfg) / "results.json").read_text())["tasks"][0]["comparisons"][0]
    middle = (cmp["ci_low"] + cmp["ci_high"]) / 2
    capsys.readouterr()
    assert _gate(cfg, "--min-gain", f"{middle:.3f}") == 3
    assert "INCONCLUSIVE: need ~" in capsys.readouterr().out
    assert ET.parse(_latest(cfg) / "junit.xml").getroot().get("skipped") == "1"


def test_payback_too_long_fails(tmp_path: Path, capsys) -> None:
    econ = ("economics: {price_in_per_mtok: 1.0, price_out_per_mtok: 1.0, calls_per_month: 10,"
            " labelling_cost_per_example: 100.0, gpu_price_per_hour: 2.0, training_hours: 1}\n")
    cfg = _project(tmp_path, economics=econ)
    assert _gate(cfg, "--max-payback-months", "6") == 1
    assert "NOT JUSTIFIED: does not pay back" in capsys.readouterr().out


def test_no_regression_mode(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    assert _gate(cfg, "--require", "no-regression") == 0


def test_too_few_examples_is_a_usage_error(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path, n_test=6)
    assert _gate(cfg) == 2
    err = capsys.readouterr().err
    assert "only 6 paired test examples" in err and "Traceback" not in err


def test_payback_limit_without_prices_is_a_usage_error(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path)
    assert _gate(cfg, "--max-payback-months", "3") == 2
    assert "needs prices" in capsys.readouterr().err


def test_negative_price_is_rejected_at_load(tmp_path: Path, capsys) -> None:
    econ = ("economics: {price_in_per_mtok: -1.0, price_out_per_mtok: 1.0, "
            "calls_per_month: 10, gpu_price_per_hour: 2.0, training_hours: 1}\n")
    cfg = _project(tmp_path, economics=econ)
    assert _gate(cfg) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{cfg}:7: economics: price_in_per_mtok must be positive")


def test_python_api_is_the_same_gate(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    res = harness.gate(cfg, store=tmp_path / "st", reports=tmp_path / "rep")
    assert res.exit_code == 0 and res.label == "FINE-TUNE JUSTIFIED"
    assert res.junit.is_file() and res.summary.is_file()
    with pytest.raises(UsageError, match="nothing to gate"):
        cfg.write_text(cfg.read_text().replace("candidate: echo", "candidate: blind"))
        harness.gate(cfg, store=tmp_path / "st", reports=tmp_path / "rep")
