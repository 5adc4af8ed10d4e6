"""The openai backend against a real ``python -m llama_cpp.server`` on loopback.

The server runs the embedded GGUF, so its answers can be compared with the
embedded backend's. Echo-logprob label scoring through this server costs
seconds per label (logprobs sorted over gemma's 262k vocabulary in Python),
so that comparison uses two short prompts only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import (
    BackendOptions,
    GenRequest,
    ScoreRequest,
    TransientBackendError,
    create,
    parse_spec,
)
from harness.cli import main
from harness.errors import UsageError
from harness.modelfiles import embedded_gguf
from harness.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_stubs import Loopback  # noqa: E402
from llama_server import ALIAS, LlamaServer, free_port, server_available  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not server_available(),
                                 reason="needs llama-cpp-python[server] (fastapi, uvicorn, ...)")]
KEY = "tg-test-key-5f1c2a9e77"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    srv = LlamaServer(embedded_gguf()[0], api_key=KEY, log=log)
    try:
        yield srv.wait()
    finally:
        srv.stop()


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_SERVER_KEY", KEY)
    monkeypatch.setenv("TG_WRONG_KEY", "not-the-key-0000")


# llama.cpp server applies repeat_penalty 1.1 by default; the embedded backend 1.0.
SAME_SAMPLING = '&extra_body={"repeat_penalty": 1.0}'


def spec(server: LlamaServer, extra: str = "", model: str = ALIAS) -> str:
    return (f"openai:{model}?base_url={server.url}&api_key_env=TG_SERVER_KEY"
            f"{SAME_SAMPLING}{extra}")


@pytest.fixture(scope="module")
def embedded() -> Iterator[Any]:
    b = create(parse_spec("embedded"), BackendOptions())
    yield b
    b.close()


def _prompts(n: int) -> list[str]:
    task = load_task(ROOT / "tasks" / "support_routing.yaml")
    return [f"Message: {ex.input}\nQueue:" for ex in task.split("test")[:n]]


def test_greedy_generations_match_the_embedded_backend(server: LlamaServer, embedded: Any
                                                       ) -> None:
    remote = create(parse_spec(spec(server, "&logprobs=false")), BackendOptions())
    try:
        prompts = _prompts(12)
        same, usage_ok = 0, 0
        for p in prompts:
            req = GenRequest(p, max_tokens=8, stop=("\n",))
            a, b = embedded.generate(req), remote.generate(req)
            same += a.text == b.text
            usage_ok += b.prompt_tokens == a.prompt_tokens and b.completion_tokens > 0
    finally:
        remote.close()
    agreement = same / len(prompts)
    print(f"\ngreedy agreement server vs embedded: {same}/{len(prompts)} = {agreement:.0%}")
    assert agreement >= 0.75
    assert usage_ok >= len(prompts) - 1  # tokens in come from the server's usage fields


def test_echo_logprob_label_scoring_picks_the_embedded_labels(server: LlamaServer,
                                                              embedded: Any) -> None:
    remote = create(parse_spec(spec(server)), BackendOptions())
    try:
        assert remote.capabilities.logprobs
        for word in ("banana", "tiger"):
            req = ScoreRequest(f"Word: {word}\nCategory:", (" fruit", " animal", " colour"))
            a, b = embedded.score(req), remote.score(req)
            assert a.logprobs.index(max(a.logprobs)) == b.logprobs.index(max(b.logprobs))
            assert b.token_counts == a.token_counts
            for x, y in zip(a.logprobs, b.logprobs, strict=True):
                assert x == pytest.approx(y, abs=0.3)  # prefix cache drift, Q4 noise
    finally:
        remote.close()


def test_a_run_through_the_server_keeps_the_key_out_of_store_and_logs(
        server: LlamaServer, easy_dir: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    model = spec(server, "&logprobs=false&concurrency=2")
    (easy_dir / "remote.yaml").write_text(
        "name: remote-run\nseed: 3\ntasks: [easy.yaml]\nvariants: [few_shot.yaml]\n"
        f"models: ['{model}']\nsplits: [test]\nlimit: {{test: 6}}\n")
    args = ["run", str(easy_dir / "remote.yaml"), "--store", str(easy_dir / "store"),
            "--reports", str(easy_dir / "reports")]
    assert main(args) == 0
    out = capsys.readouterr().out
    store = (easy_dir / "store" / "store.sqlite").read_bytes()
    assert KEY.encode() not in store and KEY not in caplog.text and KEY not in out
    results = json.loads(next((easy_dir / "reports").glob("*/results.json")).read_text())
    assert KEY not in json.dumps(results)
    import sqlite3

    db = sqlite3.connect(easy_dir / "store" / "store.sqlite")
    rows = db.execute("SELECT prompt_tokens, completion_tokens, output FROM records").fetchall()
    assert len(rows) == 6 and all(r[0] > 0 and r[1] > 0 for r in rows)
    assert all(json.loads(r[2])["detail"]["mode"] == "generate" for r in rows)


def test_wrong_port_is_one_usage_line(server: LlamaServer) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UsageError) as info:
        create(parse_spec(f"openai:{ALIAS}?base_url={url}"), BackendOptions())
    assert "cannot connect" in info.value.message and url in info.value.message


def test_unknown_model_is_a_usage_error(server: LlamaServer) -> None:
    with pytest.raises(UsageError, match="does not serve") as info:
        create(parse_spec(spec(server, model="llama-9000")), BackendOptions())
    assert ALIAS in str(info.value)


def test_bad_key_is_a_usage_error_without_any_key(server: LlamaServer) -> None:
    bad = f"openai:{ALIAS}?base_url={server.url}&api_key_env=TG_WRONG_KEY"
    with pytest.raises(UsageError) as info:
        create(parse_spec(bad), BackendOptions())
    text = info.value.one_line()
    assert "401" in text and "not-the-key" not in text and KEY not in text


def test_cli_exit_2_for_a_bad_key(server: LlamaServer, easy_dir: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = f"openai:{ALIAS}?base_url={server.url}&api_key_env=TG_WRONG_KEY"
    (easy_dir / "bad.yaml").write_text(
        "name: bad-key\ntasks: [easy.yaml]\nvariants: [few_shot.yaml]\n"
        f"models: ['{model}']\nsplits: [test]\nlimit: {{test: 2}}\n")
    code = main(["run", str(easy_dir / "bad.yaml"), "--store", str(easy_dir / "s")])
    err = capsys.readouterr().err
    assert code == 2 and "401" in err and "Traceback" not in err


def test_truncated_json_through_a_proxy_is_transient(server: LlamaServer) -> None:
    import urllib.request

    def proxy(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        if path == "/v1/models":
            req = urllib.request.Request(f"{server.url}/models",
                                         headers={"Authorization": f"Bearer {KEY}"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                return 200, {}, json.loads(resp.read())
        return 200, {}, b'{"choices": [{"text": "trunc'

    with Loopback(proxy) as px:
        b = create(parse_spec(f"openai:{ALIAS}?base_url={px.url}/v1&logprobs=false"),
                   BackendOptions())
        with pytest.raises(TransientBackendError, match="truncated") as info:
            b.generate(GenRequest("Hello"))
        b.close()
    assert px.url in str(info.value)


def _find_lora() -> Path | None:
    given = os.environ.get("TUNEGATE_TEST_LORA")
    if given:
        return Path(given)
    for base in (ROOT / "adapters", ROOT / ".tunegate" / "adapters"):
        found = sorted(base.glob("**/adapter.gguf")) if base.is_dir() else []
        if found:
            return found[0]
    return None


def _train_small_lora(root: Path) -> Path:
    """Train the code-names adapter of the training tests (seconds) and return its GGUF."""
    pytest.importorskip("peft")
    from codes_task import OPTIONS, write_code_task

    from harness.finetune import train_adapter

    task = load_task(write_code_task(root))
    return train_adapter(task, out_dir=root / "adapter", options=OPTIONS).gguf_path


def test_lora_adapter_through_the_server_matches_embedded(tmp_path: Path) -> None:
    lora = _find_lora() or _train_small_lora(tmp_path / "codes")
    srv = LlamaServer(embedded_gguf()[0], lora=lora, log=tmp_path / "lora.log").wait()
    local = create(parse_spec("embedded", adapter=str(lora)), BackendOptions())
    remote = create(parse_spec(f"openai:{ALIAS}?base_url={srv.url}&logprobs=false"
                               f"{SAME_SAMPLING}"), BackendOptions())
    base = create(parse_spec("embedded"), BackendOptions())
    try:
        prompts = _prompts(8)
        ours = [local.generate(GenRequest(p, 8, ("\n",))).text for p in prompts]
        theirs = [remote.generate(GenRequest(p, 8, ("\n",))).text for p in prompts]
        plain = [base.generate(GenRequest(p, 8, ("\n",))).text for p in prompts]
    finally:
        remote.close()
        local.close()
        base.close()
        srv.stop()
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    print(f"\nLoRA greedy agreement server vs embedded: {same}/{len(prompts)}")
    assert ours != plain  # the adapter really changes the answers
    assert same >= 0.75 * len(prompts)
