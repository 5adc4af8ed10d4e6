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
)
from harness.backends.constrain import STRUCTURED, Constraint, server_fields, to_gbnf
from harness.backends.remote import LoopThread, RemoteSpec, first_line, parse_remote, redact
from harness.errors import UsageError

log = logging.getLogger(__name__)
OPTIONS = ("base_url", "api_key_env", "endpoint", "logprobs", "concurrency", "timeout",
           "extra_body", "structured")

OPENAI_URL = "https://api.openai.com/v1"
MANY_ECHO_REQUESTS = 1000
SLOW_ECHO_S = 2.0


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
        self._extra = _json_object(self._extra_text)
        self._loop = LoopThread("tunegate-openai")
        self._client = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url,
                                          timeout=timeout, max_retries=0)
        self._slots = asyncio.Semaphore(concurrency)
        self._stats_lock = threading.Lock()
        self._echo_requests = 0
        self._echo_seconds = 0.0
        self._warned: set[str] = set()
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

    def _map(self, exc: Exception, startup: bool) -> Exception:
        """Turn a client exception into a transient error or a usage error."""
        o = self._openai
        if isinstance(exc, o.APIConnectionError):
            cause = _root_cause(exc)
            if startup:
                return self._usage_error(f"cannot connect: {cause}",
                                         hint="is the server running and the URL right?")
            return TransientBackendError(redact(f"{self._where()}: {cause}", self._key))
        if isinstance(exc, o.APIStatusError):
            code = exc.status_code
            if code == 429 or code >= 500:
                return TransientBackendError(
                    redact(f"{self._where()}: HTTP {code}", self._key),
                    retry_after=_retry_after(exc.response.headers))
            if code in (401, 403):
                return self._usage_error(f"HTTP {code}: the server refused the API key",
                                         hint="check the variable named by api_key_env")
            if code == 404:
                return self._usage_error(
                    "HTTP 404: unknown model or endpoint",
                    hint="check the model name and base_url (…/v1); chat models need "
                    "endpoint=chat")
            return self._usage_error(f"HTTP {code}: {first_line(str(exc.message))}")
        if isinstance(exc, json.JSONDecodeError) and not startup:
            # A body cut short mid-run (a proxy, a dropped connection): worth a retry.
            return TransientBackendError(redact(
                f"{self._where()}: truncated or garbled JSON: {first_line(str(exc))}",
                self._key))
        if isinstance(exc, o.APIResponseValidationError | ValueError):
            return self._usage_error(f"malformed response: {first_line(str(exc))}",
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
        names = {str(getattr(m, "id", "")) for m in getattr(page, "data", [])}
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
        lp = resp.choices[0].logprobs if resp.choices else None
        ok = bool(lp and lp.token_logprobs and lp.text_offset is not None)
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
        """Complete one prompt (``completions`` or ``chat``), constrained if it says so."""
        common: dict[str, Any] = {
            "model": self.served_model, "max_tokens": request.max_tokens,
            "temperature": request.temperature, "seed": request.seed,
            "stop": list(request.stop)[:4] or None}
        args, body = server_fields(self.structured, request.constraint)
        if self._extra or body:
            common["extra_body"] = {**self._extra, **body}
        if self.endpoint == "chat":
            messages = ([{"role": "system", "content": request.system}]
                        if request.system else []) + [
                {"role": "user", "content": request.prompt}]
            resp = self._call(self._client.chat.completions.create, messages=messages,
                              **common, **args)
            choice = resp.choices[0] if resp.choices else None
            text = (choice.message.content or "") if choice else ""
        else:
            prompt = (f"{request.system}\n\n{request.prompt}" if request.system
                      else request.prompt)
            resp = self._call(self._client.completions.create, prompt=prompt,
                              **common, **args)
            choice = resp.choices[0] if resp.choices else None
            text = choice.text if choice else ""
        if choice is None:
            raise self._usage_error("malformed response: no choices")
        finish = str(choice.finish_reason or "stop")
        if finish == "length":
            self._warn_once("length", "%s: a response was cut at max_tokens=%d",
                            self._where(), request.max_tokens)
        usage = resp.usage
        prompt_tokens = usage.prompt_tokens if usage else self.count_tokens(request.prompt)
        out_tokens = usage.completion_tokens if usage else self.count_tokens(text)
        return GenResponse(text, int(prompt_tokens), int(out_tokens), finish)

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
            total, n, before = _continuation_logprob(resp, len(request.prompt),
                                                     len(request.prompt + cont))
            if n == 0:
                raise self._usage_error("malformed response: no logprobs for the label tokens",
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
            self._warn_once("slow", "%s: echo-logprob label scoring takes %.1f s a label; for "
                            "volume score labels in-process (embedded, hf:) or set scoring: "
                            "generate", self._where(), mean)
        if before < MANY_ECHO_REQUESTS <= total:
            self._warn_once("many", "%s: %d echo-logprob requests sent so far (%.1f s each)",
                            self._where(), total, mean)

    def _warn_once(self, key: str, fmt: str, *args: Any) -> None:
        with self._stats_lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning(fmt, *args)

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


def _json_object(text: str) -> dict[str, Any]:
    """Parse the ``extra_body`` option.

    Raises:
        UsageError: Not a JSON object.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"openai backend: extra_body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("openai backend: extra_body must be a JSON object",
                         hint='e.g. extra_body={"repeat_penalty": 1.0}')
    return value


def _root_cause(exc: BaseException) -> str:
    """The innermost cause's message (connection refused, TLS failure, timeout)."""
    seen: BaseException = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            break
        seen = nxt
    text = first_line(str(seen)) or type(seen).__name__
    return text if seen is exc else f"{type(seen).__name__}: {text}"


def _retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds, when present."""
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _continuation_logprob(resp: Any, prompt_chars: int, sent_chars: int
                          ) -> tuple[float, int, int]:
    """Sum logprobs of echoed tokens reaching past ``prompt_chars``; count both sides.

    Tokens starting at or after ``sent_chars`` were generated, not echoed.
    """
    choice = resp.choices[0] if resp.choices else None
    lp = choice.logprobs if choice else None
    if lp is None or lp.token_logprobs is None or lp.text_offset is None:
        return 0.0, 0, 0
    total, n, before = 0.0, 0, 0
    tokens = lp.tokens or [""] * len(lp.token_logprobs)
    for offset, token, value in zip(lp.text_offset, tokens, lp.token_logprobs, strict=False):
        if offset >= sent_chars:
            break
        if offset + len(token) > prompt_chars and value is not None:
            total += float(value)
            n += 1
        else:
            before += 1
    return total, n, before


def create(spec: ModelSpec, options: BackendOptions) -> OpenAIBackend:
    """Build ``openai:MODEL[?options]``; the spec's adapter is a served model name."""
    return OpenAIBackend(parse_remote(spec, options, OPTIONS), spec.adapter)
