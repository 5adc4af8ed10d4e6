"""A backend wrapped with the store's response cache, retries and call counting.

Every request goes through :class:`CachedModel`: a cache hit costs no model
call; a miss calls the backend (bounded by its concurrency), retries
transient failures with exponential backoff and jitter (honouring a
server's ``Retry-After``), and stores the response before returning it.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from harness.backends.base import (
    Backend,
    GenRequest,
    GenResponse,
    ScoreRequest,
    ScoreResponse,
    TransientBackendError,
    stop_at,
)
from harness.store import Store, cache_key

R = TypeVar("R", GenResponse, ScoreResponse)


@dataclass(frozen=True)
class Usage:
    """Cost evidence for one call: tokens, latency and whether it was cached."""

    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cached: bool


UNSET_WHEN_EMPTY = ("constraint", "system")
"""Request fields added after the cache existed: left out of the key while unset."""


def request_fields(request: GenRequest | ScoreRequest) -> dict[str, Any]:
    """The request as its cache key sees it.

    Every field counts, except that a constraint or system prompt that is not
    set is left out, so a plain request keeps the key it had before those
    fields existed, and a constrained (or system-prompted) request never
    shares a key with a plain one.
    """
    req = dataclasses.asdict(request)
    for name in UNSET_WHEN_EMPTY:
        if name in req and not req[name]:
            del req[name]
    return req


class CachedModel:
    """The cache-aware, retrying front of one backend.

    Args:
        backend: The model.
        store: Where responses are cached.
        max_retries: Retries after the first attempt for transient errors.
        base_delay: First backoff delay in seconds (doubles each retry).
        sleep: Injected for tests.
    """

    def __init__(self, backend: Backend, store: Store, *, max_retries: int = 4,
                 base_delay: float = 0.5, sleep: Callable[[float], None] = time.sleep,
                 seed: int = 0, read_cache: bool = True) -> None:
        self.backend = backend
        self.read_cache = read_cache
        self.store = store
        self.max_retries = max_retries
        self.base_delay = base_delay
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._inflight: dict[str, threading.Lock] = {}
        self._slots = threading.Semaphore(backend.capabilities.max_concurrency)
        self.calls = 0
        self.hits = 0
        self.retries = 0

    @property
    def identity(self) -> dict[str, str | None]:
        """The backend's identity (part of every cache key)."""
        return self.backend.identity

    def _call(self, kind: str, request: Any, sample: int,
              fn: Callable[[Any], R], cls: type[R]) -> tuple[R, Usage]:
        req = request_fields(request)
        key = cache_key(self.identity, kind, req, sample)
        # One request per key at a time: a twin waits and then hits the cache,
        # so identical concurrent requests cost one model call, not several.
        with self._lock:
            key_lock = self._inflight.setdefault(key, threading.Lock())
        with key_lock:
            return self._call_once(key, kind, req, request, fn, cls)

    def _call_once(self, key: str, kind: str, req: dict[str, Any], request: Any,
                   fn: Callable[[Any], R], cls: type[R]) -> tuple[R, Usage]:
        hit = self.store.get_response(key) if self.read_cache else None
        if hit is not None:
            latency = float(hit.pop("_latency_s"))
            with self._lock:
                self.hits += 1
            fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                      for k, v in hit.items()}
            resp = cls(**fields)
            return resp, _usage(resp, latency, cached=True)
        attempt = 0
        while True:
            try:
                with self._slots:
                    start = time.perf_counter()
                    resp = fn(request)
                    latency = time.perf_counter() - start
                break
            except TransientBackendError as exc:
                if attempt >= self.max_retries:
                    raise
                delay = self.base_delay * 2**attempt * (0.5 + self._rng.random())
                if exc.retry_after is not None:
                    delay = max(delay, exc.retry_after)
                with self._lock:
                    self.retries += 1
                self._sleep(delay)
                attempt += 1
        with self._lock:
            self.calls += 1
        self.store.put_response(key, kind, self.identity, req, dataclasses.asdict(resp), latency,
                                replace=not self.read_cache)
        return resp, _usage(resp, latency, cached=False)

    def generate(self, request: GenRequest, sample: int = 0) -> tuple[GenResponse, Usage]:
        """Generate (cached per sample index), the text cut at the earliest stop string.

        The cut applies to cached responses too, so a response stored before
        a backend honoured every stop string reads the same as a new one.
        """
        resp, usage = self._call("generate", request, sample, self.backend.generate,
                                 GenResponse)
        return stop_at(resp, request.stop), usage

    def score(self, request: ScoreRequest) -> tuple[ScoreResponse, Usage]:
        """Score continuations (cached)."""
        return self._call("score", request, 0, self.backend.score, ScoreResponse)


def _usage(resp: GenResponse | ScoreResponse, latency: float, cached: bool) -> Usage:
    if isinstance(resp, GenResponse):
        return Usage(resp.prompt_tokens, resp.completion_tokens, latency, cached)
    return Usage(resp.prompt_tokens, 0, latency, cached)
