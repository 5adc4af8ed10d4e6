"""``ollama:MODEL``: a model served by Ollama, through the official ``ollama`` client.

Before a run the backend asks ``/api/show`` whether the model exists (and
explains ``ollama create NAME -f Modelfile`` with the Modelfile that
``tunegate train`` writes next to an adapter when it does not), and takes
the model's digest from ``/api/tags`` so a model replaced under the same
name invalidates its cached responses. Ollama returns no logprobs, so
classification generates and matches labels strictly. Tokens in and out
come from ``prompt_eval_count`` and ``eval_count`` (Ollama leaves a count
out when it is 0, e.g. a prompt served from its cache; a missing count is
estimated and said once). The text is cut at the earliest stop string on
the client too, as on every backend. A request refused with HTTP 400 or
answered without text is an error of that example only.

Options (after ``?`` in the spec, or ``BackendOptions.extra``): ``host``
(default ``$OLLAMA_HOST``, else ``http://127.0.0.1:11434``), ``endpoint``
(``generate``, default, with ``raw`` prompts; or ``chat``), ``raw``
(``true``/``false``: skip the model's prompt template, default true),
``concurrency`` (default 2; match ``OLLAMA_NUM_PARALLEL``) and ``timeout``.

Output constraints use Ollama's ``format`` (structured outputs: a JSON
Schema, on both endpoints): ``schema`` sends the task's schema, ``labels``
a string ``enum`` of the labels (the answer comes back as a JSON string and
is unquoted); Ollama has no regex constraint. With ``endpoint=chat`` a
system prompt is the system message.
"""

from __future__ import annotations

import logging
import os
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
from harness.backends.constrain import label_schema, unwrap_label
from harness.backends.remote import RemoteSpec, WarnOnce, first_line, parse_remote, token_count
from harness.errors import ExampleError, UsageError

log = logging.getLogger(__name__)
OPTIONS = ("host", "endpoint", "raw", "concurrency", "timeout")
DEFAULT_HOST = "http://127.0.0.1:11434"


def _field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` or ``obj[name]``: the client returns models or dicts by version."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


class OllamaBackend:
    """A model on an Ollama server.

    Args:
        remote: The model name and its options.
    """

    def __init__(self, remote: RemoteSpec) -> None:
        try:
            import httpx
            import ollama
        except ImportError:
            raise UsageError("the ollama client is not installed",
                             hint="pip install ollama") from None
        self._ollama, self._httpx = ollama, httpx
        self.model = remote.model
        self.host = (remote.get("host", "") or os.environ.get("OLLAMA_HOST")
                     or DEFAULT_HOST).rstrip("/")
        self.endpoint = remote.choice("endpoint", "generate", ("generate", "chat"))
        self.raw = remote.choice("raw", "true", ("true", "false")) == "true"
        concurrency = int(remote.number("concurrency", 2, 1, 64))
        timeout = remote.number("timeout", 300.0, 1.0, 3600.0)
        self._client = ollama.Client(host=self.host, timeout=timeout)
        self._warn = WarnOnce(log)
        self.digest = self._check_model()
        self.capabilities = Capabilities(logprobs=False, tokenizer=False,
                                         max_concurrency=concurrency,
                                         constrain=frozenset({"schema", "labels"}),
                                         chat=self.endpoint == "chat")

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, model name + digest (+ endpoint), no adapter (it is in the model)."""
        return {"backend": "ollama",
                "model": f"{self.endpoint}:{self.model}@{self.digest or self.host}",
                "adapter": None}

    def _where(self) -> str:
        return f"ollama backend at {self.host} (model {self.model})"

    def _map(self, exc: Exception, startup: bool) -> Exception:
        """A client exception as a transient error or a usage error."""
        if isinstance(exc, self._ollama.ResponseError):
            code = int(_field(exc, "status_code", 0) or 0)
            if code == 429 or code >= 500 or code == -1:
                return TransientBackendError(f"{self._where()}: HTTP {code}: "
                                             f"{first_line(str(exc.error))}")
            if code == 404:
                return self._missing()
            make = ExampleError if code == 400 and not startup else UsageError
            return make(f"{self._where()}: HTTP {code}: {first_line(str(exc.error))}")
        if isinstance(exc, ConnectionError | self._httpx.TransportError):
            cause = first_line(str(exc)) or type(exc).__name__
            if startup:
                return UsageError(f"{self._where()}: cannot connect: {cause}",
                                  hint="is `ollama serve` running? set host=URL or OLLAMA_HOST")
            return TransientBackendError(f"{self._where()}: {cause}")
        if isinstance(exc, ValueError | KeyError | TypeError):
            make = UsageError if startup else ExampleError
            return make(f"{self._where()}: malformed response: {first_line(str(exc))}",
                        hint="is host an Ollama server?")
        return exc

    def _missing(self) -> UsageError:
        names = self._names()
        listed = f"; the server has: {', '.join(names[:8])}" if names else ""
        return UsageError(f"{self._where()}: model not found{listed}",
                          hint=f"create it: `ollama create {self.model} -f Modelfile` with the "
                          "Modelfile `tunegate train` wrote next to the adapter (FROM + "
                          f"ADAPTER), or `ollama pull {self.model}`")

    def _names(self) -> list[str]:
        try:
            listing = self._client.list()
        except Exception:  # noqa: BLE001 - only for a hint
            return []
        return [str(_field(m, "model") or _field(m, "name") or "")
                for m in _field(listing, "models", []) or []]

    def _call(self, fn: Any, startup: bool = False, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped, re-raised
            mapped = self._map(exc, startup)
            if mapped is exc:
                raise
            raise mapped from None

    def _check_model(self) -> str | None:
        """``/api/show`` the model (usage error if missing); its digest from ``/api/tags``."""
        self._call(self._client.show, startup=True, model=self.model)
        listing = self._call(self._client.list, startup=True)
        wanted = {self.model, f"{self.model}:latest"}
        for m in _field(listing, "models", []) or []:
            if str(_field(m, "model") or _field(m, "name") or "") in wanted:
                digest = _field(m, "digest")
                return str(digest) if digest else None
        return None

    def generate(self, request: GenRequest) -> GenResponse:
        """Complete one prompt via ``/api/generate`` (raw) or ``/api/chat``.

        Raises:
            TransientBackendError: Connection, timeout, 429 or 5xx.
            ExampleError: HTTP 400 for this request, or a response without text.
            UsageError: The model is missing or the host is not an Ollama server.
        """
        options: dict[str, Any] = {"temperature": request.temperature, "seed": request.seed,
                                   "num_predict": request.max_tokens}
        if request.stop:
            options["stop"] = list(request.stop)
        c = request.constraint
        extra: dict[str, Any] = {} if c is None else {
            "format": label_schema(c.choices) if c.kind == "labels" else c.schema_dict}
        if self.endpoint == "chat":
            messages = ([{"role": "system", "content": request.system}]
                        if request.system else []) + [
                {"role": "user", "content": request.prompt}]
            resp = self._call(self._client.chat, model=self.model, stream=False,
                              messages=messages, options=options, **extra)
            text = _field(_field(resp, "message"), "content")
        else:
            prompt = (f"{request.system}\n\n{request.prompt}" if request.system
                      else request.prompt)
            resp = self._call(self._client.generate, model=self.model, prompt=prompt,
                              raw=self.raw, stream=False, options=options, **extra)
            text = _field(resp, "response")
        if not isinstance(text, str):
            raise ExampleError(f"{self._where()}: malformed response: no text")
        if c is not None and c.kind == "labels":
            text = unwrap_label(text)
        prompt_tokens = token_count(_field(resp, "prompt_eval_count"))
        out_tokens = token_count(_field(resp, "eval_count"))
        if prompt_tokens is None or out_tokens is None:
            self._warn("usage", "%s: the server left out prompt_eval_count or eval_count "
                       "(a cached prompt); those counts are estimated at about 3 bytes a "
                       "token", self._where())
        out = stop_at(GenResponse(
            text,
            self.count_tokens(request.prompt) if prompt_tokens is None else prompt_tokens,
            self.count_tokens(text) if out_tokens is None else out_tokens,
            str(_field(resp, "done_reason") or "stop")), request.stop)
        if out.finish_reason == "length":
            self._warn("length", "%s: a response was cut at max_tokens=%d", self._where(),
                       request.max_tokens, level=logging.INFO)
        return out

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Ollama gives no logprobs: always a usage error (the planner generates instead)."""
        raise UsageError(f"{self._where()}: Ollama returns no logprobs",
                         hint="set scoring: generate (or auto) in the variant")

    def count_tokens(self, text: str) -> int:
        """An upper-leaning estimate (no tokenizer over the API): ~3 bytes a token."""
        return len(text.encode("utf-8")) // 3 + 1

    def close(self) -> None:
        """Close the HTTP client."""
        inner = getattr(self._client, "_client", None)
        if inner is not None:
            inner.close()


def create(spec: ModelSpec, options: BackendOptions) -> OllamaBackend:
    """Build ``ollama:MODEL[?options]`` (an adapter lives inside the Ollama model)."""
    if spec.adapter:
        raise UsageError(f"ollama backend: cannot load the adapter file {spec.adapter}",
                         hint="build an Ollama model with it: `ollama create NAME -f "
                         "Modelfile`, then use ollama:NAME")
    return OllamaBackend(parse_remote(spec, options, OPTIONS))
