"""compare-base: the two-model plan and the retire/retrain/keep decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.analysis.model import TaskResult
from harness.backends.base import parse_spec
from harness.cli import main
from harness.compare_base import KEEP, RETIRE, RETRAIN, UNSURE, decide_task, plan
from harness.config import load_config
from harness.errors import UsageError
from tests.unit import resultskit as kit


def _project(root: Path, adapter: bool = False) -> Path:
    rows = [json.dumps({"id": f"{s}{i}", "text": f"t {i}", "label": "A" if i % 2 else "B"})
            for s in ("tr", "dv", "te") for i in range(4)]
    (root / "d.jsonl").write_text("\n".join(rows) + "\n")
    (root / "task.yaml").write_text(
        "name: toy\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        "target: label}\n  path: d.jsonl\n  split_rule: {seed: 1, dev: 0.3, test: 0.3}\n"
        "labels: [A, B]\n")
    (root / "p.j2").write_text("{{ input }} ->")
    (root / "zero.yaml").write_text("name: zero\ntemplate: p.j2\n")
    source = "adapter: a.gguf\n" if adapter else "train: {epochs: 1}\n"
    (root / "ft.yaml").write_text("name: ft\nkind: lora\ntemplate: p.j2\n" + source)
    (root / "a.gguf").write_bytes(b"GGUF")
    cfg = root / "c.yaml"
    cfg.write_text("name: cb\ntasks: [task.yaml]\nvariants: [zero.yaml, ft.yaml]\n")
    return cfg


def test_plan_runs_lora_on_old_and_prompts_on_new(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path))
    old, new = parse_spec("embedded"), parse_spec("embedded:q8_0")
    two = plan(cfg, old, new, retrain=False)
    zero, ft = cfg.variants
    assert two.models == (old, new)
    assert (two.runs(ft, old), two.runs(zero, old)) == (True, False)
    assert (two.runs(zero, new), two.runs(ft, new)) == (True, False)
    retrain = plan(cfg, old, new, retrain=True)
    assert retrain.runs(ft, new)
    assert len({cfg.digest, two.digest, retrain.digest}) == 3


def test_plan_refuses_what_cannot_be_compared(tmp_path: Path) -> None:
    cfg = load_config(_project(tmp_path, adapter=True))
    old, new = parse_spec("embedded"), parse_spec("embedded:q8_0")
    with pytest.raises(UsageError, match="--retrain needs a 'train:' section"):
        plan(cfg, old, new, retrain=True)
    with pytest.raises(UsageError, match="the same model"):
        plan(cfg, old, old, retrain=False)


def test_cli_without_lora_variant_is_a_usage_error(tmp_path: Path, capsys) -> None:
    cfg = _project(tmp_path)
    cfg.write_text("name: cb\ntasks: [task.yaml]\nvariants: [zero.yaml]\n")
    code = main(["compare-base", str(cfg), "--old", "embedded", "--new", "embedded:q8_0",
                 "--store", str(tmp_path / "st")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "needs a lora variant" in err[0] and str(cfg) in err[0]


def _task(delta: float, lo: float, hi: float, new_ft: tuple[float, float, float] | None = None
          ) -> TaskResult:
    variants = [{"name": "zero@embedded:q8_0", "kind": "prompt", "dev_score": 0.5},
                {"name": "ft@embedded", "kind": "lora", "dev_score": 0.7}]
    comps = [{"candidate": "ft@embedded", "delta": delta, "ci_low": lo, "ci_high": hi,
              "n": 80, "n_needed": 300}]
    if new_ft is not None:
        variants.append({"name": "ft@embedded:q8_0", "kind": "lora", "dev_score": 0.6})
        comps.append({"candidate": "ft@embedded:q8_0", "delta": new_ft[0], "ci_low": new_ft[1],
                      "ci_high": new_ft[2], "n": 80})
    return kit.task({"task": "toy", "baseline": "zero@embedded:q8_0", "variants": variants,
                     "comparisons": comps, "economics": {"training_cost_usd": 12.5}})


@pytest.mark.parametrize(("task", "label", "says"), [
    (_task(0.0, -0.05, 0.01), RETIRE, "matches the old fine-tune"),
    (_task(0.2, 0.1, 0.3), RETRAIN, "retraining costs about $17.50"),
    (_task(0.2, 0.1, 0.3, (0.15, 0.05, 0.25)), RETRAIN, "retrained adapter beats it too"),
    (_task(0.2, 0.1, 0.3, (0.0, -0.1, 0.1)), KEEP, "keep the old base"),
    (_task(0.03, -0.02, 0.08), UNSURE, "about 300 test examples"),
])
def test_decisions(task: TaskResult, label: str, says: str) -> None:
    d = decide_task(task, "embedded", "embedded:q8_0", min_gain=0.02, reeval_cost=5.0)
    assert d.label == label
    assert says in d.reason
    assert d.old_adapter == "ft@embedded" and d.new_prompt == "zero@embedded:q8_0"
