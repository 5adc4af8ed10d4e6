"""Loopback HTTP servers for backend tests: a scripted server and an Ollama stand-in.

No client is mocked: the real ``openai`` and ``ollama`` clients talk HTTP to
these servers on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], Any]  # status, headers, body (dict -> JSON, bytes raw)


@dataclass
class Seen:
    method: str
    path: str
    body: Any
    headers: dict[str, str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: Callable[[str, str, Any, dict[str, str]], Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.handle_fn = handler


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self, method: str) -> None:
        size = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(size) if size else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        status, headers, out = self.server.handle_fn(
            method, self.path.split("?")[0], body, {k.lower(): v for k, v in self.headers.items()})
        data = out if isinstance(out, bytes) else json.dumps(out).encode()
        self.send_response(status)
        headers = {"content-type": "application/json", **headers}
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")


class Loopback:
    """Run a handler function as an HTTP server on a free loopback port."""

    def __init__(self, handler: Callable[[str, str, Any, dict[str, str]], Reply]) -> None:
        self.server = _Server(handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Loopback:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Scripted:
    """Replies by (method, path): a list consumed in order, the last one repeating."""

    routes: dict[tuple[str, str], list[Reply]]
    seen: list[Seen] = field(default_factory=list)
    delay_s: float = 0.0

    def __call__(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        self.seen.append(Seen(method, path, body, headers))
        if self.delay_s:
            time.sleep(self.delay_s)
        replies = self.routes.get((method, path))
        if not replies:
            return 404, {}, {"error": {"message": f"no route {method} {path}"}}
        return replies.pop(0) if len(replies) > 1 else replies[0]


def models_reply(*names: str) -> Reply:
    return 200, {}, {"object": "list", "data": [
        {"id": n, "object": "model", "created": 0, "owned_by": "test"} for n in names]}


def completion_reply(text: str, prompt_tokens: int = 5, completion_tokens: int = 2,
                     logprobs: dict[str, Any] | None = None, finish: str = "stop") -> Reply:
    return 200, {}, {
        "id": "cmpl-1", "object": "text_completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": logprobs}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens}}


Completer = Callable[[str, dict[str, Any]], tuple[str, int, int, str]]


class OllamaStandIn:
    """The Ollama endpoints tunegate uses, with the documented shapes.

    ``/api/show`` (POST ``{"model"}``; 404 ``{"error"}`` when missing),
    ``/api/tags`` (GET ``{"models": [{"name", "model", "digest", ...}]}``),
    ``/api/generate`` and ``/api/chat`` (POST, ``stream: false``: one JSON
    object with ``response``/``message``, ``done``, ``done_reason``,
    ``prompt_eval_count``, ``eval_count`` and durations). ``complete``
    computes ``(text, prompt_tokens, eval_tokens, done_reason)``; a request's
    ``format`` (a JSON Schema) reaches it as ``options["format"]``.
    """

    def __init__(self, models: dict[str, str], complete: Completer) -> None:
        self.models = models  # name -> digest
        self.complete = complete
        self.seen: list[Seen] = []

    def _find(self, name: str) -> str | None:
        for candidate in (name, f"{name}:latest", name.removesuffix(":latest")):
            if candidate in self.models:
                return candidate
        return None

    def __call__(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        self.seen.append(Seen(method, path, body, headers))
        body = body if isinstance(body, dict) else {}
        if (method, path) == ("GET", "/api/tags"):
            return 200, {}, {"models": [
                {"name": n, "model": n, "modified_at": "2026-01-01T00:00:00Z", "size": 1,
                 "digest": d, "details": {"format": "gguf", "family": "gemma3"}}
                for n, d in self.models.items()]}
        name = str(body.get("model") or body.get("name") or "")
        if path in ("/api/show", "/api/generate", "/api/chat") and self._find(name) is None:
            return 404, {}, {"error": f"model '{name}' not found"}
        if path == "/api/show":
            return 200, {}, {"modelfile": f"FROM {name}", "parameters": "", "template":
                             "{{ .Prompt }}", "details": {"format": "gguf"}, "model_info": {},
                             "modified_at": "2026-01-01T00:00:00Z"}
        options = body.get("options") or {}
        if body.get("format") is not None:  # structured outputs: handed to ``complete``
            options = {**options, "format": body["format"]}
        if path == "/api/generate":
            text, n_in, n_out, reason = self.complete(str(body.get("prompt", "")), options)
            return 200, {}, self._done(name, reason, n_in, n_out) | {"response": text}
        if path == "/api/chat":
            messages = body.get("messages") or []
            prompt = str(messages[-1]["content"]) if messages else ""
            text, n_in, n_out, reason = self.complete(prompt, options)
            return 200, {}, self._done(name, reason, n_in, n_out) | {
                "message": {"role": "assistant", "content": text}}
        return 404, {}, {"error": f"no route {method} {path}"}

    @staticmethod
    def _done(name: str, reason: str, n_in: int, n_out: int) -> dict[str, Any]:
        return {"model": name, "created_at": "2026-01-01T00:00:00Z", "done": True,
                "done_reason": reason, "total_duration": 1, "load_duration": 1,
                "prompt_eval_count": n_in, "prompt_eval_duration": 1, "eval_count": n_out,
                "eval_duration": 1}
