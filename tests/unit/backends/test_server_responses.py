"""Server responses off the happy path, over real HTTP on loopback (issue 18 case 4).

Every field an OpenAI-compatible server (OpenAI, vLLM, llama.cpp) or Ollama
may leave out, send as ``null`` or empty gets a sane value or an error of
that one example (:class:`ExampleError`), never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("ollama")

from http_stubs import Loopback, OllamaStandIn, Scripted, completion_reply, models_reply  # noqa: E402

from harness.backends.base import (  # noqa: E402
    BackendOptions,
    GenRequest,
    ScoreRequest,
    create,
    parse_spec,
)
from harness.cli import main  # noqa: E402
from harness.errors import ExampleError, UsageError  # noqa: E402
from harness.store import Store  # noqa: E402


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def _choice(**fields: Any) -> dict[str, Any]:
    return {"index": 0, "logprobs": None, **fields}


def _body(choices: list[dict[str, Any]], usage: Any = "absent", obj: str = "text_completion"
          ) -> dict[str, Any]:
    body: dict[str, Any] = {"id": "x", "object": obj, "created": 0, "model": "m",
                            "choices": choices}
    if usage != "absent":
        body["usage"] = usage
    return body


def _generate(body: Any, endpoint: str = "completions", status: int = 200) -> Any:
    path = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", path): [(status, {}, body)]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1&logprobs=false"
                              f"&endpoint={endpoint}"), BackendOptions())
        try:
            return b.generate(GenRequest("Queue: hello", max_tokens=4))
        finally:
            b.close()


# "Queue: hello" is 12 bytes -> 12 // 3 + 1 = 5 estimated prompt tokens;
# " TIDE" is 5 bytes -> 5 // 3 + 1 = 2 estimated completion tokens.
NULLS = {"prompt_tokens": None, "completion_tokens": None, "total_tokens": None}


@pytest.mark.parametrize(("usage", "tokens"), [
    (NULLS, (5, 2)),                                        # case 4a: was a TypeError
    ("absent", (5, 2)),                                     # missing: already worked
    (None, (5, 2)),                                         # "usage": null
    ({"prompt_tokens": 11, "completion_tokens": None}, (11, 2)),  # only one count null
    ({"prompt_tokens": "11", "completion_tokens": -1}, (11, 2)),  # a string; a negative
])
def test_null_or_missing_usage_is_estimated(usage: Any, tokens: tuple[int, int]) -> None:
    resp = _generate(_body([_choice(text=" TIDE", finish_reason="stop")], usage))
    assert (resp.text, (resp.prompt_tokens, resp.completion_tokens)) == (" TIDE", tokens)


@pytest.mark.parametrize(("choice", "endpoint", "want"), [
    ({"text": " TIDE", "finish_reason": None}, "completions", (" TIDE", "stop")),
    ({"text": None, "finish_reason": "length"}, "completions", ("", "length")),
    ({"message": {"role": "assistant", "content": None, "refusal": "I can't"},
      "finish_reason": "stop"}, "chat", ("", "refusal")),
    ({"message": {"role": "assistant", "content": None}, "finish_reason": "content_filter"},
     "chat", ("", "content_filter")),
])
def test_a_null_text_with_a_reason_is_an_empty_answer(choice: dict[str, Any], endpoint: str,
                                                      want: tuple[str, str]) -> None:
    obj = "chat.completion" if endpoint == "chat" else "text_completion"
    resp = _generate(_body([_choice(**choice)], obj=obj), endpoint)
    assert (resp.text, resp.finish_reason) == want


@pytest.mark.parametrize(("body", "endpoint", "status", "why"), [
    (_body([]), "completions", 200, "no choices"),
    ({}, "completions", 200, "no choices"),
    (None, "completions", 200, "no choices"),
    (_body([_choice(text=None, finish_reason="stop")]), "completions", 200, "has no text"),
    (_body([_choice(finish_reason="stop", message={"role": "assistant", "content": None})],
           obj="chat.completion"), "chat", 200, "has no text"),
    ({"error": {"message": "maximum context length is 2048 tokens"}}, "completions", 400,
     "400 - maximum context length is 2048 tokens"),
    ({"error": {"message": "too large"}}, "completions", 413, "HTTP 413"),
    ({"error": {"message": "seed must be an integer"}}, "completions", 422, "HTTP 422"),
])
def test_an_unusable_response_is_an_error_of_that_example(body: Any, endpoint: str,
                                                          status: int, why: str) -> None:
    with pytest.raises(ExampleError) as info:
        _generate(body, endpoint, status)
    assert why in info.value.message and "\n" not in info.value.one_line()


def test_401_mid_run_still_stops_the_run() -> None:
    """A refused key is the whole run's problem, not one example's."""
    with pytest.raises(UsageError) as info:
        _generate({"error": {"message": "bad key"}}, status=401)
    assert not isinstance(info.value, ExampleError)


def test_a_model_listing_with_null_data_does_not_crash_start_up() -> None:
    script = Scripted({("GET", "/v1/models"): [(200, {}, {"object": "list", "data": None})],
                       ("POST", "/v1/completions"): [completion_reply(" ok")]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1&logprobs=false"),
                   BackendOptions())
        assert b.generate(GenRequest("a")).text == " ok"
        b.close()


def _echo(lps: list[float | None] | None) -> dict[str, Any]:
    tokens = ["Q", ":", " OR", "CA"]
    logprobs = None if lps is None else {"tokens": tokens, "token_logprobs": lps,
                                         "text_offset": [0, 1, 2, 5], "top_logprobs": None}
    return completion_reply("", logprobs=logprobs)


@pytest.mark.parametrize(("reply", "why"), [
    (_echo(None), "no logprobs for the label tokens of 'ORCA'"),
    (_echo([None, -0.5, -1.0, None]), "a null logprob for the label tokens of 'ORCA'"),
])
def test_echo_scoring_without_label_logprobs_is_an_error_of_that_example(
        reply: Any, why: str) -> None:
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [reply]})
    with Loopback(script) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1&logprobs=true"),
                   BackendOptions())
        with pytest.raises(ExampleError, match=why):
            b.score(ScoreRequest("Q:", (" ORCA",)))
        b.close()


def test_null_usage_in_a_whole_run_exits_0_and_is_said_once(project, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    """Case 4a through ``tunegate run``: a TypeError traceback and exit 1 before."""
    script = Scripted({("GET", "/v1/models"): [models_reply("m")],
                       ("POST", "/v1/completions"): [
                           (200, {}, _body([_choice(text=" ALPHA", finish_reason="stop")],
                                           NULLS))]})
    with Loopback(script) as srv:
        text = project.config.read_text().replace(
            "fake:keyword", f"'openai:m?base_url={srv.url}/v1&logprobs=false'")
        project.config.write_text(text)
        code = main(["run", str(project.config), "--store", str(tmp_path / "s"),
                     "--reports", str(tmp_path / "r")])
    assert code == 0
    store = Store(tmp_path / "s")
    (run,) = store.runs()
    recs = {r.example_id: r for r in store.records(run.run_id)}
    store.close()
    # dv0's prompt "Message: dv message 0 is about ALPHA\nAnswer:" is 9 + 27 + 8 = 44
    # bytes -> 44 // 3 + 1 = 15 tokens; " ALPHA" is 6 bytes -> 6 // 3 + 1 = 3.
    assert (recs["dv0"].prompt_tokens, recs["dv0"].completion_tokens) == (15, 3)
    assert len(recs) == 10 and all(r.error is None for r in recs.values())
    said = [r for r in caplog.records if "reports no token counts" in r.getMessage()]
    assert len(said) == 1  # ten requests, one warning


def _ollama(edit: Any, endpoint: str = "generate") -> Any:
    stand = OllamaStandIn({"m": "sha256:1"}, lambda p, o: ("BILL", 3, 2, "stop"))

    def handle(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        status, head, out = stand(method, path, body, headers)
        if path in ("/api/generate", "/api/chat"):
            return edit(status, head, out)
        return status, head, out

    with Loopback(handle) as srv:
        b = create(parse_spec(f"ollama:m?host={srv.url}&endpoint={endpoint}"),
                   BackendOptions())
        try:
            return [b.generate(GenRequest("route this", stop=("\n",))) for _ in range(3)]
        finally:
            b.close()


def _drop(*keys: str) -> Any:
    return lambda s, h, out: (s, h, {k: v for k, v in out.items() if k not in keys})


def test_ollama_missing_counts_and_done_reason(caplog: pytest.LogCaptureFixture) -> None:
    # Ollama omits a count that is 0 (a prompt served from its cache): "route this"
    # is 10 bytes -> 10 // 3 + 1 = 4; "BILL" 4 bytes -> 4 // 3 + 1 = 2. done_reason: "stop".
    resps = _ollama(_drop("prompt_eval_count", "eval_count", "done_reason"))
    assert {(r.text, r.prompt_tokens, r.completion_tokens, r.finish_reason)
            for r in resps} == {("BILL", 4, 2, "stop")}
    assert sum("left out prompt_eval_count" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize(("edit", "endpoint", "why"), [
    (_drop("response"), "generate", "no text"),
    (lambda s, h, out: (s, h, {**out, "response": None}), "generate", "no text"),
    (lambda s, h, out: (s, h, {**out, "message": {"role": "assistant", "content": None}}),
     "chat", "no text"),
    (_drop("message"), "chat", "malformed response"),
    (lambda s, h, out: (400, h, {"error": "prompt too long"}), "generate",
     "HTTP 400: prompt too long"),
])
def test_ollama_unusable_response_is_an_error_of_that_example(edit: Any, endpoint: str,
                                                              why: str) -> None:
    with pytest.raises(ExampleError, match=why):
        _ollama(edit, endpoint)


def test_ollama_happy_path_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    _ollama(lambda s, h, out: (s, h, out))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_request_refused_with_400_fails_its_example_and_the_run_goes_on(project,
                                                                          tmp_path: Path
                                                                          ) -> None:
    """vLLM answers 400 for a prompt longer than its context: that example, not the run."""
    def handle(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        if path == "/v1/models":
            return models_reply("m")
        if "te message 2 " in body["prompt"]:
            return 400, {}, {"error": {"message": "This model's maximum context length is "
                                       "2048 tokens"}}
        return completion_reply(" ALPHA")

    with Loopback(handle) as srv:
        text = project.config.read_text().replace(
            "fake:keyword", f"'openai:m?base_url={srv.url}/v1&logprobs=false'")
        project.config.write_text(text)
        code = main(["run", str(project.config), "--store", str(tmp_path / "s"),
                     "--reports", str(tmp_path / "r")])
    store = Store(tmp_path / "s")
    (run,) = store.runs()
    recs = {r.example_id: r for r in store.records(run.run_id)}
    store.close()
    assert code == 1  # some examples failed (as for failures after retries)
    assert len(recs) == 10 and [k for k, r in recs.items() if r.error] == ["te2"]
    assert recs["te2"].error.startswith(f"{project.data / 'test.jsonl'}:3: example te2: ")
    assert "maximum context length is 2048 tokens" in recs["te2"].error
