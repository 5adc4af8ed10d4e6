"""``openai:MODEL``: OpenAI or any OpenAI-compatible server (vLLM, llama.cpp, LM Studio).

Built on the official ``openai`` client (async), driven from the runner's
threads through one event loop thread, with at most ``concurrency`` requests
in flight. Options (after ``?`` in the spec, or ``BackendOptions.extra``):

- ``base_url``: the server (default ``$OPENAI_BASE_URL``, else OpenAI).
- ``api_key_env``: the *name* of the variable holding the key (default
  ``OPENAI_API_KEY``). The key itself is never stored, logged or reported.
- ``endpoint``: ``completions`` (plain prompts, default) or ``chat``.
- ``logprobs``: ``auto`` (probe once), ``true`` or ``false``.
- ``concurrency`` (default 8) and ``timeout`` seconds (default 120).
- ``extra_body``: a JSON object merged into every request, for server
  sampling defaults that differ (llama.cpp server applies
  ``repeat_penalty`` 1.1 unless sent ``{"repeat_penalty": 1.0}``).
- ``structured``: how the server constrains output (a variant's
  ``constrain``): ``openai`` (default; structured outputs, ``response_format``
  ``{"type": "json_schema", ...}``, chat endpoint, schema only), ``vllm``
  (guided decoding: ``guided_json``, ``guided_choice``, ``guided_regex`` in
  the request body) or ``llamacpp`` (a GBNF ``grammar`` in the request body,
  which the llama.cpp server, C++ or Python, accepts on both endpoints).

The API takes at most four stop strings: four are sent, and the text is cut
on the client at the earliest of all of them, as on every backend. Fields a
server leaves out or sends as ``null`` are read in
:mod:`harness.backends.openai_response`: null token counts are estimated
(said once), a request refused with 400/413/422 or answered without choices
is an error of that example only.

Label scoring uses the completions endpoint with ``echo`` and ``logprobs``:
one request per label, summing the log-probabilities of the label's tokens.
That is slow on servers that compute logprobs over a big vocabulary in
Python (llama.cpp server with gemma's 262k tokens: about 20 s a request),
so for volume score in-process (``embedded``, ``hf:``) or generate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from typing import Any

from harness.backends.base import (
    BackendOptions,
    Capabilities,
    GenRequest,
    GenResponse,
    ModelSpec,
    ScoreRequest,
    ScoreResponse,
    TransientBackendError,
    stop_at,
)
from harness.backends.constrain import STRUCTURED, Constraint, server_fields, to_gbnf
from harness.backends.openai_response import (
    MalformedResponse,
    choice_text,
    continuation_logprob,
    json_object,
    retry_after,
    root_cause,
    usage_counts,
)
from harness.backends.remote import (
    MAX_OPENAI_STOP,
    LoopThread,
    RemoteSpec,
    WarnOnce,
    first_line,
    parse_remote,
    redact,
)
from harness.errors import ExampleError, UsageError

log = logging.getLogger(__name__)
OPTIONS = ("base_url", "api_key_env", "endpoint", "logprobs", "concurrency", "timeout",
           "extra_body", "structured")

OPENAI_URL = "https://api.openai.com/v1"
MANY_ECHO_REQUESTS = 1000
SLOW_ECHO_S = 2.0
PER_REQUEST_CODES = (400, 413, 422)
"""HTTP codes that refuse one request (its length or a value in it), not the whole run."""


class OpenAIBackend:
    """A model behind an OpenAI-compatible HTTP API.

    Args:
        remote: The model name and its options.
        adapter: A served adapter's model name (a vLLM ``--lora-modules`` name
            or a fine-tuned model id); requests then go to that name.
    """

    def __init__(self, remote: RemoteSpec, adapter: str | None = None) -> None:
        try:
            import openai
        except ImportError:
            raise UsageError("the openai client is not installed",
                             hint="pip install openai") from None
        self._openai = openai
        self.model = remote.model
        self.adapter = adapter
        self.endpoint = remote.choice("endpoint", "completions", ("completions", "chat"))
        env_name = remote.get("api_key_env", "OPENAI_API_KEY")
        self.base_url = (remote.get("base_url", "") or os.environ.get("OPENAI_BASE_URL")
                         or OPENAI_URL).rstrip("/")
        key = os.environ.get(env_name)
        if not key and self.base_url == OPENAI_URL:
            raise UsageError(f"openai backend: the API key variable {env_name} is not set",
                             hint=f"export {env_name}=... (or set api_key_env=NAME)")
        self._key = key or "none"  # local servers accept any key unless started with one
        concurrency = int(remote.number("concurrency", 8, 1, 256))
        timeout = remote.number("timeout", 120.0, 1.0, 3600.0)
        self._extra_text = remote.get("extra_body", "")
        self.structured = remote.choice("structured", "openai", tuple(STRUCTURED))
        self._extra = json_object(self._extra_text)
        self._loop = LoopThread("tunegate-openai")
        self._client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url,
                                          timeout=timeout, max_retries=0)
        self._slots = asyncio.Semaphore(concurrency)
        self._stats_lock = threading.Lock()
        self._echo_requests = 0
        self._echo_seconds = 0.0
        self._warn = WarnOnce(log)
        try:
            self._check_model()
            want = remote.choice("logprobs", "auto", ("auto", "true", "false"))
            has = self.endpoint == "completions" and (
                want == "true" or (want == "auto" and self._probe_logprobs()))
        except BaseException:
            self.close()
            raise
        can = STRUCTURED[self.structured]
        if self.structured == "openai" and self.endpoint != "chat":
            can = frozenset()  # OpenAI's structured outputs are a chat feature
        self.capabilities = Capabilities(logprobs=has, tokenizer=False,
                                         max_concurrency=concurrency,
                                         remote_echo_scoring=has, constrain=can,
                                         chat=self.endpoint == "chat")

    @property
    def served_model(self) -> str:
        """The model name sent with each request (the adapter's, if any)."""
        return self.adapter or self.model

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, endpoint + model + server, and the adapter name."""
        extra = f"+{self._extra_text}" if self._extra else ""
        return {"backend": "openai",
                "model": f"{self.endpoint}:{self.model}@{self.base_url}{extra}",
                "adapter": self.adapter}

    # -- errors -----------------------------------------------------------------

    def _where(self) -> str:
        return f"openai backend at {self.base_url} (model {self.served_model})"

    def _usage_error(self, cause: str, hint: str | None = None) -> UsageError:
        return UsageError(redact(f"{self._where()}: {cause}", self._key), hint=hint)

    def _example_error(self, cause: str, hint: str | None = None) -> ExampleError:
        return ExampleError(redact(f"{self._where()}: {cause}", self._key), hint=hint)

    def _map(self, exc: Exception, startup: bool) -> Exception:
        """Turn a client exception into a transient error or a usage error."""
        o = self._openai
        if isinstance(exc, o.APIConnectionError):
            cause = root_cause(exc)
            if startup:
                return self._usage_error(f"cannot connect: {cause}",
                                         hint="is the server running and the URL right?")
            return TransientBackendError(redact(f"{self._where()}: {cause}", self._key))
        if isinstance(exc, o.APIStatusError):
            code = exc.status_code
            if code == 429 or code >= 500:
                return TransientBackendError(
                    redact(f"{self._where()}: HTTP {code}", self._key),
                    retry_after=retry_after(exc.response.headers))
            if code in (401, 403):
                return self._usage_error(f"HTTP {code}: the server refused the API key",
                                         hint="check the variable named by api_key_env")
            if code == 404:
                return self._usage_error(
                    "HTTP 404: unknown model or endpoint",
                    hint="check the model name and base_url (…/v1); chat models need "
                    "endpoint=chat")
            if code in PER_REQUEST_CODES and not startup:
                # This request was refused (too long for the context, a bad value in
                # it); the next example's may not be.
                return self._example_error(f"HTTP {code}: {first_line(str(exc.message))}")
            return self._usage_error(f"HTTP {code}: {first_line(str(exc.message))}")
        if isinstance(exc, json.JSONDecodeError) and not startup:
            # A body cut short mid-run (a proxy, a dropped connection): worth a retry.
            return TransientBackendError(redact(
                f"{self._where()}: truncated or garbled JSON: {first_line(str(exc))}",
                self._key))
        if isinstance(exc, o.APIResponseValidationError | ValueError):
            make = self._usage_error if startup else self._example_error
            return make(f"malformed response: {first_line(str(exc))}",
                        hint="is base_url an OpenAI-compatible API?")
        return exc

    def _call(self, coro_fn: Any, *args: Any, startup: bool = False, **kwargs: Any) -> Any:
        async def guarded() -> Any:
            async with self._slots:
                return await coro_fn(*args, **kwargs)

        try:
            return self._loop.run(guarded())
        except Exception as exc:  # noqa: BLE001 - mapped, re-raised
            mapped = self._map(exc, startup)
            if mapped is exc:
                raise
            raise mapped from None

    # -- start-up checks ---------------------------------------------------------

    def _check_model(self) -> None:
        """Reach the server, check the key, and check the model is served."""
        try:
            page = self._call(self._client.models.list, startup=True)
        except UsageError as exc:
            if "HTTP 404" in exc.message:
                return  # a server without /models: the first request will tell
            raise
        names = {str(getattr(m, "id", None) or "") for m in getattr(page, "data", None) or []}
        names.discard("")
        if names and self.served_model not in names:
            shown = ", ".join(sorted(names)[:8])
            raise self._usage_error("the server does not serve this model",
                                    hint=f"served: {shown}")

    def _probe_logprobs(self) -> bool:
        """Whether completions with ``echo`` return prompt-token logprobs."""
        try:
            resp = self._call(self._client.completions.create, startup=True,
                              model=self.served_model, prompt="Yes", max_tokens=1,
                              echo=True, logprobs=1, temperature=0.0)
        except UsageError as exc:
            log.info("%s: no echo logprobs (%s); classification will generate",
                     self._where(), exc.message)
            return False
        choices = getattr(resp, "choices", None) or []
        lp = getattr(choices[0], "logprobs", None) if choices else None
        ok = bool(lp and getattr(lp, "token_logprobs", None)
                  and getattr(lp, "text_offset", None) is not None)
        if not ok:
            log.info("%s returns no logprobs; classification will generate", self._where())
        return ok

    # -- constraints ---------------------------------------------------------------

    def check_constraint(self, constraint: Constraint) -> None:
        """Refuse, at start, a constraint this server dialect cannot send.

        Raises:
            UsageError: Naming the dialect and what to set instead.
        """
        if constraint.kind not in self.capabilities.constrain:
            need = ("endpoint=chat (OpenAI's structured outputs)"
                    if self.structured == "openai" and constraint.kind == "schema"
                    else "structured=vllm or structured=llamacpp")
            raise self._usage_error(f"structured={self.structured} cannot constrain to "
                                    f"{constraint.kind} here", hint=f"set {need}")
        if self.structured == "llamacpp":
            to_gbnf(constraint)

    # -- requests ----------------------------------------------------------------

    def generate(self, request: GenRequest) -> GenResponse:
        """Complete one prompt (``completions`` or ``chat``), constrained if it says so.

        The API takes at most four stop strings: the first four are sent and
        all of them are applied to the returned text. Token counts the server
        leaves out or sends as ``null`` are estimated (said once per run). A
        system prompt is the system message on ``chat``, else it is prepended.

        Raises:
            TransientBackendError: Connection, timeout, 429 or 5xx.
            ExampleError: This request was refused (400, 413, 422) or answered
                without choices or text.
            UsageError: The key, the model or the endpoint is wrong.
        """
        common: dict[str, Any] = {
            "model": self.served_model, "max_tokens": request.max_tokens,
            "temperature": request.temperature, "seed": request.seed,
            "stop": list(request.stop)[:MAX_OPENAI_STOP] or None}
        if len(request.stop) > MAX_OPENAI_STOP:
            self._warn("stop", "%s: %d stop strings; the API takes %d, the rest are applied "
                       "to the returned text", self._where(), len(request.stop),
                       MAX_OPENAI_STOP, level=logging.INFO)
        args, body = server_fields(self.structured, request.constraint)
        if self._extra or body:
            common["extra_body"] = {**self._extra, **body}
        if self.endpoint == "chat":
            messages = ([{"role": "system", "content": request.system}]
                        if request.system else []) + [
                {"role": "user", "content": request.prompt}]
            resp = self._call(self._client.chat.completions.create, messages=messages,
                              **common, **args)
        else:
            prompt = (f"{request.system}\n\n{request.prompt}" if request.system
                      else request.prompt)
            resp = self._call(self._client.completions.create, prompt=prompt, **common, **args)
        try:
            text, finish = choice_text(resp, chat=self.endpoint == "chat")
        except MalformedResponse as exc:
            raise self._example_error(f"malformed response: {exc}") from None
        prompt_tokens, out_tokens = usage_counts(resp)
        if prompt_tokens is None or out_tokens is None:
            self._warn("usage", "%s: the server reports no token counts (usage missing or "
                       "null); they are estimated at about 3 bytes a token",
                       self._where())
        out = stop_at(GenResponse(
            text,
            self.count_tokens(request.prompt) if prompt_tokens is None else prompt_tokens,
            self.count_tokens(text) if out_tokens is None else out_tokens, finish),
            request.stop)
        if out.finish_reason == "length":
            self._warn("length", "%s: a response was cut at max_tokens=%d",
                       self._where(), request.max_tokens)
        return out

    async def _echo(self, text: str) -> Any:
        async with self._slots:
            return await self._client.completions.create(
                model=self.served_model, prompt=text, max_tokens=1, echo=True, logprobs=1,
                temperature=0.0)

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Log-likelihood of each continuation from the server's echoed logprobs."""
        if not self.capabilities.logprobs:
            raise self._usage_error("this server gives no logprobs",
                                    hint="set scoring: generate in the variant")

        async def all_labels() -> list[Any]:
            return await asyncio.gather(*(self._echo(request.prompt + c)
                                          for c in request.continuations))

        start = time.perf_counter()
        try:
            responses = self._loop.run(all_labels())
        except Exception as exc:  # noqa: BLE001 - mapped, re-raised
            mapped = self._map(exc, startup=False)
            if mapped is exc:
                raise
            raise mapped from None
        self._note_echo(len(responses), time.perf_counter() - start)
        sums, counts, prompt_tokens = [], [], 0
        for resp, cont in zip(responses, request.continuations, strict=True):
            total, n, before = continuation_logprob(resp, len(request.prompt),
                                                    len(request.prompt + cont))
            if n <= 0:
                why = "no logprobs" if n == 0 else "a null logprob"
                raise self._example_error(f"malformed response: {why} for the label tokens "
                                          f"of {cont.strip()!r}",
                                          hint="set logprobs=false or scoring: generate")
            sums.append(total)
            counts.append(n)
            prompt_tokens = before
        return ScoreResponse(tuple(sums), tuple(counts), prompt_tokens)

    def _note_echo(self, n: int, seconds: float) -> None:
        with self._stats_lock:
            before = self._echo_requests
            self._echo_requests += n
            self._echo_seconds += seconds
            mean = self._echo_seconds / max(1, self._echo_requests)
            total = self._echo_requests
        if mean > SLOW_ECHO_S:
            self._warn("slow", "%s: echo-logprob label scoring takes %.1f s a label; for "
                       "volume score labels in-process (embedded, hf:) or set scoring: "
                       "generate", self._where(), mean)
        if before < MANY_ECHO_REQUESTS <= total:
            self._warn("many", "%s: %d echo-logprob requests sent so far (%.1f s each)",
                       self._where(), total, mean)

    def count_tokens(self, text: str) -> int:
        """An upper-leaning estimate (the API has no tokenizer): ~3 bytes a token."""
        return len(text.encode("utf-8")) // 3 + 1

    def close(self) -> None:
        """Close the client and stop the loop thread."""
        if not self._loop.loop.is_closed():
            try:
                self._loop.run(self._client.close(), timeout=10)
            except Exception:  # noqa: BLE001 - closing; nothing to report
                log.debug("openai client close failed", exc_info=True)
            self._loop.close()


def create(spec: ModelSpec, options: BackendOptions) -> OpenAIBackend:
    """Build ``openai:MODEL[?options]``; the spec's adapter is a served model name."""
    return OpenAIBackend(parse_remote(spec, options, OPTIONS), spec.adapter)
