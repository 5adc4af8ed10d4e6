"""The ollama backend through the real ollama client against a loopback stand-in server."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ollama")

from http_stubs import Loopback, OllamaStandIn, Scripted  # noqa: E402

from harness.backends.base import (  # noqa: E402
    BackendOptions,
    GenRequest,
    ScoreRequest,
    create,
    parse_spec,
)
from harness.client import CachedModel  # noqa: E402
from harness.errors import UsageError  # noqa: E402
from harness.store import Store  # noqa: E402


def upper(prompt: str, options: dict[str, Any]) -> tuple[str, int, int, str]:
    text = prompt.split()[-1].upper()
    return text, len(prompt.split()), 1, "stop"


def make(url: str, name: str = "routing", extra: str = ""):  # type: ignore[no-untyped-def]
    return create(parse_spec(f"ollama:{name}?host={url}{extra}"), BackendOptions())


def test_generate_uses_raw_prompt_options_and_reports_counts() -> None:
    stand = OllamaStandIn({"routing:latest": "sha256:abc"}, upper)
    with Loopback(stand) as srv:
        b = make(srv.url)
        resp = b.generate(GenRequest("say tide", max_tokens=5, stop=("\n",), seed=7))
        b.close()
    assert (resp.text, resp.prompt_tokens, resp.completion_tokens) == ("TIDE", 2, 1)
    sent = stand.seen[-1]
    assert sent.path == "/api/generate" and sent.body["raw"] is True
    assert sent.body["stream"] is False
    assert sent.body["options"] == {"temperature": 0.0, "seed": 7, "num_predict": 5,
                                    "stop": ["\n"]}
    assert [s.path for s in stand.seen[:2]] == ["/api/show", "/api/tags"]
    assert b.identity["model"] == "generate:routing@sha256:abc"
    assert b.capabilities.logprobs is False


def test_chat_endpoint() -> None:
    stand = OllamaStandIn({"routing": "sha256:abc"}, upper)
    with Loopback(stand) as srv:
        b = make(srv.url, extra="&endpoint=chat")
        resp = b.generate(GenRequest("say orca"))
        b.close()
    assert resp.text == "ORCA"
    assert stand.seen[-1].body["messages"] == [{"role": "user", "content": "say orca"}]


def test_missing_model_explains_ollama_create() -> None:
    stand = OllamaStandIn({"other:latest": "sha256:1"}, upper)
    with Loopback(stand) as srv, pytest.raises(UsageError) as info:
        make(srv.url)
    text = info.value.one_line()
    assert "model not found" in text and "other:latest" in text
    assert "ollama create routing -f Modelfile" in text and "\n" not in text


def test_unreachable_host_is_a_usage_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UsageError, match="cannot connect"):
        make(f"http://127.0.0.1:{port}")


def test_server_errors_are_transient_and_retried(tmp_path: Path) -> None:
    stand = OllamaStandIn({"routing": "sha256:abc"}, upper)
    failures = [(503, {}, {"error": "busy"})]

    def flaky(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        if path == "/api/generate" and failures:
            return failures.pop()
        return stand(method, path, body, headers)

    with Loopback(flaky) as srv:
        b = make(srv.url)
        model = CachedModel(b, Store(tmp_path), sleep=lambda s: None)
        resp, usage = model.generate(GenRequest("x kelp"))
        b.close()
    assert resp.text == "KELP" and model.retries == 1 and usage.prompt_tokens == 2


def test_malformed_json_is_a_usage_error() -> None:
    script = Scripted({("POST", "/api/show"): [(200, {}, b"<html>")],
                       ("GET", "/api/tags"): [(200, {}, {"models": []})]})
    with Loopback(script) as srv, pytest.raises(UsageError):
        make(srv.url)


def test_score_is_refused_and_adapters_are_explained() -> None:
    stand = OllamaStandIn({"routing": "sha256:abc"}, upper)
    with Loopback(stand) as srv:
        b = make(srv.url)
        with pytest.raises(UsageError, match="no logprobs"):
            b.score(ScoreRequest("p", (" a",)))
        b.close()
    with pytest.raises(UsageError, match="ollama create"):
        create(parse_spec("ollama:routing", adapter="a.gguf"), BackendOptions())
