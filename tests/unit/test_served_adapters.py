"""vLLM-style multi-LoRA: one base, each served adapter a lora variant (``served:NAME``).

A loopback server stands in for vLLM's OpenAI-compatible API: it lists the
base and two adapter names and answers each model with its own label, so
the records show which model each variant's requests went to.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

from http_stubs import Loopback, completion_reply, models_reply  # noqa: E402

from harness.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ANSWERS = {"base": " ORCA", "routing-r8": " TIDE", "routing-r16": " KELP"}


def vllm(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if path == "/v1/models":
        return models_reply(*ANSWERS)
    model = body["model"]
    if model not in ANSWERS:
        return 404, {}, {"error": {"message": f"The model `{model}` does not exist."}}
    return completion_reply(ANSWERS[model])


def test_each_served_adapter_is_a_variant_sent_as_the_model(tmp_path: Path) -> None:
    tpl = ROOT / "baselines" / "templates" / "classify_bare.j2"
    for name in ("routing-r8", "routing-r16"):
        (tmp_path / f"{name}.yaml").write_text(
            f"name: lora_{name.split('-')[1]}\nkind: lora\nadapter: served:{name}\n"
            f"template: {tpl}\n")
    with Loopback(vllm) as srv:
        model = f"openai:base?base_url={srv.url}/v1&logprobs=false&concurrency=4"
        (tmp_path / "run.yaml").write_text(
            f"name: vllm\ntasks: [{ROOT / 'tasks/support_routing.yaml'}]\n"
            f"variants: [{ROOT / 'baselines/zero_shot.yaml'}, routing-r8.yaml, "
            f"routing-r16.yaml]\nmodels: ['{model}']\nsplits: [test]\nlimit: {{test: 4}}\n")
        code = main(["run", str(tmp_path / "run.yaml"), "--store", str(tmp_path / "s"),
                     "--reports", str(tmp_path / "r")])
    assert code in (0, 3)  # the verdict may be inconclusive on 4 examples
    db = sqlite3.connect(tmp_path / "s" / "store.sqlite")
    rows = db.execute("SELECT variant, output FROM records").fetchall()
    got = {(v, json.loads(o)["text"]) for v, o in rows}
    assert got == {("zero_shot", " ORCA"), ("lora_r8", " TIDE"), ("lora_r16", " KELP")}
    assert len(rows) == 12


def test_an_adapter_the_server_does_not_serve_is_one_line(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    tpl = ROOT / "baselines" / "templates" / "classify_bare.j2"
    (tmp_path / "v.yaml").write_text(
        f"name: lora_x\nkind: lora\nadapter: served:routing-x\ntemplate: {tpl}\n")
    with Loopback(vllm) as srv:
        model = f"openai:base?base_url={srv.url}/v1&logprobs=false"
        (tmp_path / "run.yaml").write_text(
            f"name: vllm\ntasks: [{ROOT / 'tasks/support_routing.yaml'}]\n"
            f"variants: [v.yaml]\nmodels: ['{model}']\nsplits: [test]\nlimit: {{test: 2}}\n")
        assert main(["run", str(tmp_path / "run.yaml"), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "routing-x" in err and "does not serve" in err
