"""The openai backend against scripted loopback servers (the real openai client, no mocks)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest.importorskip("openai")

from http_stubs import Loopback, Scripted, completion_reply, models_reply  # noqa: E402

from harness.backends.base import (  # noqa: E402
    BackendOptions,
    GenRequest,
    ScoreRequest,
    TransientBackendError,
    create,
    parse_spec,
)
from harness.client import CachedModel  # noqa: E402
from harness.errors import UsageError  # noqa: E402
from harness.store import Store  # noqa: E402

KEY = "sk-test-0123456789abcdefSECRET"


def backend(url: str, extra: str = ""):  # type: ignore[no-untyped-def]
    spec = parse_spec(f"openai:m?base_url={url}/v1&logprobs=false{extra}")
    return create(spec, BackendOptions())


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_generate_reports_server_usage_and_sends_the_key_only_as_a_header() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [completion_reply(" TIDE", 11, 3)]})
    with Loopback(script) as srv:
        b = backend(srv.url)
        resp = b.generate(GenRequest("Queue:", max_tokens=4, stop=("\n",)))
        b.close()
    assert (resp.text, resp.prompt_tokens, resp.completion_tokens) == (" TIDE", 11, 3)
    sent = script.seen[-1]
    assert sent.body["prompt"] == "Queue:" and sent.body["stop"] == ["\n"]
    assert sent.body["max_tokens"] == 4 and sent.body["temperature"] == 0.0
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in str(b.identity)


def test_chat_endpoint_sends_one_user_message() -> None:
    chat = {"id": "c", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "ORCA"}}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 1, "total_tokens": 8}}
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/chat/completions"): [(200, {}, chat)]})
    with Loopback(script) as srv:
        b = backend(srv.url, "&endpoint=chat")
        resp = b.generate(GenRequest("Which queue?"))
        b.close()
    assert resp.text == "ORCA" and resp.prompt_tokens == 7
    assert script.seen[-1].body["messages"] == [{"role": "user", "content": "Which queue?"}]
    assert b.capabilities.logprobs is False


def test_429_is_transient_with_retry_after_and_cached_model_waits_for_it(tmp_path: Path
                                                                          ) -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [
                           (429, {"retry-after": "3"}, {"error": {"message": "slow down"}}),
                           (503, {}, {"error": {"message": "busy"}}),
                           completion_reply("ok")]})
    slept: list[float] = []
    with Loopback(script) as srv:
        b = backend(srv.url)
        with pytest.raises(TransientBackendError) as info:
            b.generate(GenRequest("a"))
        assert info.value.retry_after == 3.0
        script.routes[("POST", "/v1/completions")] = [
            (429, {"retry-after": "3"}, {"error": {"message": "slow down"}}),
            (500, {}, {"error": {"message": "oops"}}), completion_reply("ok")]
        model = CachedModel(b, Store(tmp_path), sleep=slept.append, base_delay=0.01)
        resp, _ = model.generate(GenRequest("b"))
        b.close()
    assert resp.text == "ok" and model.retries == 2
    assert slept[0] >= 3.0 and slept[1] < 1.0


def test_bad_key_is_a_usage_error_without_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY[:12]}****{KEY[-4:]}"}}
    script = Scripted({("GET", "/v1/models"): [(401, {}, body)]})
    with Loopback(script) as srv, pytest.raises(UsageError) as info:
        backend(srv.url)
    text = info.value.one_line()
    assert "401" in text and srv.url in text and "API key" in text
    assert KEY not in text and KEY[:12] not in text and "\n" not in text


def test_unknown_model_is_a_usage_error_listing_served_models() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("gemma", "other")]})
    with Loopback(script) as srv, pytest.raises(UsageError) as info:
        backend(srv.url)
    assert "does not serve" in info.value.message and "gemma" in str(info.value)


def test_404_at_request_time_is_a_usage_error_not_retried(tmp_path: Path) -> None:
    script = Scripted({("GET", "/v1/models"): [(404, {}, {"error": "no listing"})],
                       ("POST", "/v1/completions"): [(404, {}, {"error": {"message": "nope"}})]})
    with Loopback(script) as srv:
        b = backend(srv.url)
        model = CachedModel(b, Store(tmp_path), sleep=lambda s: None)
        with pytest.raises(UsageError, match="404"):
            model.generate(GenRequest("a"))
        b.close()
    assert model.retries == 0


def test_malformed_json_is_a_usage_error_naming_the_url() -> None:
    script = Scripted({("GET", "/v1/models"): [(200, {}, b"{not json")]})
    with Loopback(script) as srv, pytest.raises(UsageError) as info:
        backend(srv.url)
    assert "malformed" in info.value.message and srv.url in info.value.message


def test_truncated_json_mid_run_is_transient_naming_the_url() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [(200, {}, b'{"choices": [{"te')]})
    with Loopback(script) as srv:
        b = backend(srv.url)
        with pytest.raises(TransientBackendError) as info:
            b.generate(GenRequest("a"))
        b.close()
    assert "truncated or garbled JSON" in str(info.value) and srv.url in str(info.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_url_is_one_usage_line() -> None:
    with pytest.raises(UsageError) as info:
        backend(f"http://127.0.0.1:{_free_port()}")
    text = info.value.one_line()
    assert "cannot connect" in text and "\n" not in text


def test_server_gone_mid_run_is_transient() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")]})
    with Loopback(script) as srv:
        b = backend(srv.url)
    with pytest.raises(TransientBackendError):
        b.generate(GenRequest("a"))
    b.close()


def test_timeout_is_transient() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [completion_reply("late")]})
    with Loopback(script) as srv:
        b = backend(srv.url, "&timeout=1")
        script.delay_s = 2.0
        with pytest.raises(TransientBackendError):
            b.generate(GenRequest("a"))
        b.close()


def test_no_logprobs_means_generation() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [completion_reply("x", logprobs=None)]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1"), BackendOptions())
        b.close()
    assert script.seen[-1].body["echo"] is True
    assert b.capabilities.logprobs is False


def test_echo_logprobs_sum_only_the_label_tokens() -> None:
    def echo(prompt_tokens: list[str], lps: list[float | None]) -> dict[str, object]:
        offsets, pos = [], 0
        for t in prompt_tokens:
            offsets.append(pos)
            pos += len(t)
        return {"tokens": prompt_tokens, "token_logprobs": lps, "text_offset": offsets,
                "top_logprobs": None}

    probe = completion_reply("", logprobs=echo(["Yes", "!"], [None, -1.0]))
    orca = completion_reply("", logprobs=echo(["Q", ":", " OR", "CA", "\n"],
                                              [None, -0.5, -1.0, -0.25, -9.0]))
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [probe, orca]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1"), BackendOptions())
        assert b.capabilities.logprobs is True
        resp = b.score(ScoreRequest("Q:", (" ORCA",)))
        b.close()
    assert resp.logprobs == (-1.25,) and resp.token_counts == (2,) and resp.prompt_tokens == 2
    assert script.seen[-1].body["prompt"] == "Q: ORCA" and script.seen[-1].body["echo"]


def test_option_mistakes_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown option 'base'"):
        create(parse_spec("openai:m?base=http://x"), BackendOptions())
    with pytest.raises(UsageError, match="endpoint"):
        create(parse_spec("openai:m?base_url=http://127.0.0.1:1/v1&endpoint=edit"),
               BackendOptions())


def test_missing_key_for_openai_itself_names_the_variable(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    with pytest.raises(UsageError, match="MY_KEY"):
        create(parse_spec("openai:gpt-4o-mini?api_key_env=MY_KEY"), BackendOptions())


def test_tls_error_is_one_usage_line() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")]})
    with Loopback(script) as srv, pytest.raises(UsageError) as info:
        backend(srv.url.replace("http://", "https://"))
    text = info.value.one_line()
    assert "cannot connect" in text and "SSL" in text and "\n" not in text


def test_extra_body_is_sent_and_part_of_the_identity() -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [completion_reply("x")]})
    with Loopback(script) as srv:
        plain = backend(srv.url)
        tuned = backend(srv.url, '&extra_body={"repeat_penalty": 1.0}')
        tuned.generate(GenRequest("a"))
        plain.close()
        tuned.close()
    assert script.seen[-1].body["repeat_penalty"] == 1.0
    assert plain.identity != tuned.identity
    with pytest.raises(UsageError, match="JSON object"):
        backend("http://127.0.0.1:1", "&extra_body=[1]")


def test_slow_or_many_echo_requests_warn_once(monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    from harness.backends import openai_backend

    monkeypatch.setattr(openai_backend, "SLOW_ECHO_S", 0.0)
    monkeypatch.setattr(openai_backend, "MANY_ECHO_REQUESTS", 3)
    lp = {"tokens": ["Q", " a"], "token_logprobs": [None, -1.0], "text_offset": [0, 1],
          "top_logprobs": None}
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [completion_reply("", logprobs=lp)]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1&logprobs=true"),
                   BackendOptions())
        for _ in range(3):
            b.score(ScoreRequest("Q", (" a", " b")))
        b.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert sum("in-process" in w for w in warnings) == 1
    assert sum("echo-logprob requests sent" in w for w in warnings) == 1
