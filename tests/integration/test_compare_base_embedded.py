"""compare-base end to end on two real bases: the packaged Q4_K_M GGUF and its Q8_0 re-export.

The code-names task: a prompt cannot know the codes, an adapter learns them,
so the old base's adapter beats prompting the new base and the decision is
RETRAIN; with --retrain the adapter is trained again on the Q8_0 base (its
own digest) and beats the new base's prompt too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
pytest.importorskip("peft")

from codes_task import TEMPLATE, write_code_task  # noqa: E402

from harness.cli import main  # noqa: E402

pytestmark = pytest.mark.integration


def test_compare_base_retrains_on_the_new_base(tmp_path: Path, capsys) -> None:
    write_code_task(tmp_path)
    (tmp_path / "p.j2").write_text(TEMPLATE)
    (tmp_path / "prompt.yaml").write_text("name: prompt\ntemplate: p.j2\n")
    (tmp_path / "ft.yaml").write_text(
        "name: ft\nkind: lora\ntemplate: p.j2\n"
        "train: {rank: 8, alpha: 16, epochs: 5, lr: 0.002, batch_size: 4, seed: 0}\n")
    cfg = tmp_path / "cb.yaml"
    cfg.write_text("name: cb\nseed: 1\ntasks: [codes.yaml]\nvariants: [prompt.yaml, ft.yaml]\n"
                   "decision: {min_gain: 0.05}\n")
    code = main(["compare-base", str(cfg), "--old", "embedded", "--new", "embedded:q8_0",
                 "--retrain", "--store", str(tmp_path / "st"), "--reports",
                 str(tmp_path / "rep")])
    out = capsys.readouterr().out
    assert code == 0, out
    report = next((tmp_path / "rep").iterdir())
    decision = json.loads((report / "compare_base.json").read_text())
    (d,) = decision["decisions"]
    assert d["label"] == "RETRAIN", d
    assert (d["old_adapter"], d["new_prompt"], d["new_adapter"]) == (
        "ft@embedded", "prompt@embedded:q8_0", "ft@embedded:q8_0")
    results = json.loads((report / "results.json").read_text())
    names = {v["name"] for v in results["tasks"][0]["variants"]}
    assert names == {"ft@embedded", "prompt@embedded:q8_0", "ft@embedded:q8_0"}
    adapters = sorted(p.name for p in (tmp_path / "st" / "adapters").iterdir())
    assert len(adapters) == 2  # one per base: the digests differ
    assert "codes: RETRAIN:" in out
