"""Helpers shared by the backends that talk to a server (``openai``, ``ollama``).

Options ride on the model spec after a ``?`` (``openai:gemma?base_url=http://
127.0.0.1:8080/v1&endpoint=completions``) or come from
:class:`~harness.backends.base.BackendOptions` ``extra``; the spec wins. Each
backend declares the keys it accepts, so a misspelt option is a usage error
that lists the valid ones. Secrets never travel this way: an option names the
environment variable that holds the key, and :func:`redact` scrubs a key out
of any text before it reaches a message.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from harness.backends.base import BackendOptions, ModelSpec
from harness.errors import UsageError

T = TypeVar("T")
MAX_OPENAI_STOP = 4
"""Stop strings the OpenAI API accepts in one request; the rest apply on the client."""


@dataclass(frozen=True)
class RemoteSpec:
    """A remote model name plus its validated options."""

    model: str
    options: Mapping[str, str]

    def get(self, key: str, default: str) -> str:
        """An option's value, or ``default``."""
        return self.options.get(key, default)

    def number(self, key: str, default: float, low: float, high: float) -> float:
        """A numeric option within ``[low, high]``.

        Raises:
            UsageError: Not a number or out of range.
        """
        text = self.options.get(key)
        if text is None:
            return default
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"option {key}={text!r} is not a number") from None
        if not low <= value <= high:
            raise UsageError(f"option {key}={text} is out of range [{low:g}, {high:g}]")
        return value

    def choice(self, key: str, default: str, valid: tuple[str, ...]) -> str:
        """An option restricted to ``valid`` values.

        Raises:
            UsageError: Another value.
        """
        value = self.options.get(key, default)
        if value not in valid:
            raise UsageError(f"option {key}={value!r} is not valid",
                             hint=f"one of: {', '.join(valid)}")
        return value


def parse_remote(spec: ModelSpec, options: BackendOptions, allowed: tuple[str, ...]
                 ) -> RemoteSpec:
    """Split ``MODEL?key=value&...`` and merge with ``options.extra``.

    Raises:
        UsageError: An unknown option key or an empty model name.
    """
    model, _, query = spec.model.partition("?")
    merged = {k: v for k, v in options.extra.items() if k in allowed}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise UsageError(f"{spec.backend}: unknown option {key!r} in model spec",
                             hint=f"valid: {', '.join(allowed)}")
        merged[key] = value
    if not model.strip():
        raise UsageError(f"{spec.backend}: the model spec names no model",
                         hint=f"{spec.backend}:MODEL")
    return RemoteSpec(model.strip(), merged)


def redact(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` (and any long fragment of it) replaced by ``***``.

    >>> redact("bad key sk-abc123456789xyz", "sk-abc123456789xyz")
    'bad key ***'
    """
    if not secret or len(secret) < 4:
        return text
    out = text.replace(secret, "***")
    # Servers echo masked keys ("sk-abc1****xyz"): drop any 8+ char piece too.
    for i in range(0, len(secret) - 7):
        piece = secret[i:i + 8]
        if piece in out:
            out = out.replace(piece, "***")
    return out


def token_count(value: Any) -> int | None:
    """A server's token count when it is a non-negative whole number, else ``None``.

    Servers send ``null``, leave the field out, or (rarely) send a string.

    >>> token_count(12), token_count(None), token_count("7"), token_count(-1)
    (12, None, 7, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        try:
            n = int(value)
        except ValueError:
            return None
        return n if n >= 0 else None
    return None


class WarnOnce:
    """Log each kind of warning once per backend instance (that is, once per run).

    Args:
        logger: The backend module's logger.
    """

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._lock = threading.Lock()
        self._said: set[str] = set()

    def __call__(self, key: str, fmt: str, *args: Any, level: int = logging.WARNING) -> None:
        """Log ``fmt % args`` at ``level`` unless ``key`` was already said."""
        with self._lock:
            if key in self._said:
                return
            self._said.add(key)
        self._log.log(level, fmt, *args)


def first_line(text: str, limit: int = 200) -> str:
    """The first line of ``text``, shortened to ``limit`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


class LoopThread:
    """One asyncio event loop on a daemon thread, driven from any thread.

    The runner's worker threads call :meth:`run`; every coroutine runs on
    the one loop, so one async HTTP client (and its connection pool) serves
    all of them, with concurrency bounded by the caller's semaphore.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
