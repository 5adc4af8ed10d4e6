"""What the openai and ollama backends send for constraints and system prompts.

The real ``openai`` and ``ollama`` clients talk HTTP to loopback servers
(tests/http_stubs.py); each test reads the request body the server received.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("ollama")

from http_stubs import (  # noqa: E402
    Loopback,
    OllamaStandIn,
    Scripted,
    completion_reply,
    models_reply,
)

from harness.backends.base import BackendOptions, GenRequest, create, parse_spec  # noqa: E402
from harness.backends.constrain import Constraint  # noqa: E402
from harness.errors import UsageError  # noqa: E402

SCHEMA = {"type": "object", "properties": {"t": {"enum": ["A", "B"]}}, "required": ["t"],
          "additionalProperties": False}
CHAT = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": '{"t": "A"}'}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _openai(url: str, extra: str) -> Any:
    return create(parse_spec(f"openai:m?base_url={url}/v1&logprobs=false{extra}"),
                  BackendOptions())


def _served(extra: str, request: GenRequest, path: str = "/v1/completions"
            ) -> tuple[Any, dict[str, Any]]:
    reply = (200, {}, CHAT) if "chat" in path else completion_reply(" A")
    script = Scripted({("GET", "/v1/models"): [models_reply("m")], ("POST", path): [reply]})
    with Loopback(script) as srv:
        b = _openai(srv.url, extra)
        try:
            b.generate(request)
        finally:
            b.close()
    return b, script.seen[-1].body


def test_openai_structured_outputs_send_the_schema_as_response_format() -> None:
    req = GenRequest("p", constraint=Constraint.for_schema(SCHEMA), system="Be exact.")
    b, body = _served("&endpoint=chat", req, "/v1/chat/completions")
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": SCHEMA, "strict": True}}
    assert body["messages"] == [{"role": "system", "content": "Be exact."},
                                {"role": "user", "content": "p"}]
    assert b.capabilities.constrain == frozenset({"schema"}) and b.capabilities.chat


@pytest.mark.parametrize(("constraint", "field", "value"), [
    (Constraint.for_schema(SCHEMA), "guided_json", SCHEMA),
    (Constraint.for_labels(["ORCA", "TIDE"]), "guided_choice", ["ORCA", "TIDE"]),
    (Constraint.for_regex("[A-Z]{3}"), "guided_regex", "[A-Z]{3}"),
])
def test_vllm_guided_decoding_fields(constraint, field, value) -> None:
    _, body = _served("&structured=vllm", GenRequest("p", constraint=constraint))
    assert body[field] == value and body["prompt"] == "p"


def test_llamacpp_grammar_and_extra_body_are_merged() -> None:
    extra = '&structured=llamacpp&extra_body={"repeat_penalty": 1.0}'
    req = GenRequest("p", constraint=Constraint.for_labels(["ORCA", "TIDE"]))
    _, body = _served(extra, req)
    assert body["grammar"] == 'root ::= " "? ("ORCA" | "TIDE")'
    assert body["repeat_penalty"] == 1.0


def test_plain_requests_carry_no_constraint_fields() -> None:
    _, body = _served("&structured=vllm", GenRequest("p"))
    assert not {"guided_json", "guided_choice", "guided_regex", "grammar",
                "response_format"} & set(body)


def test_a_system_prompt_on_the_completions_endpoint_is_prepended() -> None:
    _, body = _served("", GenRequest("p", system="Be exact."))
    assert body["prompt"] == "Be exact.\n\np"


@pytest.mark.parametrize(("extra", "kind", "hint"), [
    ("", "schema", "set endpoint=chat"),
    ("&endpoint=chat", "labels", "set structured=vllm or structured=llamacpp"),
])
def test_openai_dialect_refuses_what_it_cannot_send(extra, kind, hint) -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")]})
    constraint = {"schema": Constraint.for_schema(SCHEMA),
                  "labels": Constraint.for_labels(["A"])}[kind]
    with Loopback(script) as srv:
        b = _openai(srv.url, extra)
        try:
            with pytest.raises(UsageError, match=f"cannot constrain to {kind}") as err:
                b.check_constraint(constraint)
        finally:
            b.close()
    assert hint in (err.value.hint or "")


def test_llamacpp_dialect_refuses_an_unsupported_regex_at_start() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")]})
    with Loopback(script) as srv:
        b = _openai(srv.url, "&structured=llamacpp")
        try:
            with pytest.raises(UsageError, match="a look-ahead"):
                b.check_constraint(Constraint.for_regex("(?=A)B"))
        finally:
            b.close()


def _echo(prompt: str, options: dict[str, Any]) -> tuple[str, int, int, str]:
    fmt = options.get("format")
    text = '"TIDE"' if fmt == {"type": "string", "enum": ["ORCA", "TIDE"]} else "free text"
    return text, 3, 1, "stop"


@pytest.mark.parametrize("endpoint", ["generate", "chat"])
def test_ollama_sends_format_and_unquotes_a_label(endpoint: str) -> None:
    stand = OllamaStandIn({"m:latest": "sha256:abc"}, _echo)
    with Loopback(stand) as srv:
        b = create(parse_spec(f"ollama:m?host={srv.url}&endpoint={endpoint}"), BackendOptions())
        try:
            label = b.generate(GenRequest("p", constraint=Constraint.for_labels(["ORCA", "TIDE"]),
                                          system="Be exact."))
            b.generate(GenRequest("p", constraint=Constraint.for_schema(SCHEMA)))
            plain = b.generate(GenRequest("p"))
        finally:
            b.close()
    bodies = [s.body for s in stand.seen if s.path == f"/api/{endpoint}"]
    assert bodies[0]["format"] == {"type": "string", "enum": ["ORCA", "TIDE"]}
    assert bodies[1]["format"] == SCHEMA and "format" not in bodies[2]
    assert (label.text, plain.text) == ("TIDE", "free text")
    if endpoint == "chat":
        assert bodies[0]["messages"][0] == {"role": "system", "content": "Be exact."}
    else:
        assert bodies[0]["prompt"] == "Be exact.\n\np"
    assert b.capabilities.constrain == frozenset({"schema", "labels"})
    assert b.capabilities.chat is (endpoint == "chat")
