"""A scripted backend for unit tests: no network, no weights, deterministic.

``fake:keyword`` behaves like a weak reader: a continuation scores higher
when its text occurs near the end of the prompt (where the input is), so
tests can build tasks with a controlled accuracy. ``fake:flaky`` raises a
transient error on every third new prompt so retries can be tested.
``fake:MODE?n_ctx=N`` gives it a context of N whitespace tokens, enforced
like a local model's (:class:`~harness.backends.context.ContextWindow`).
Generated text is cut at the request's stop strings like every backend's.
"""

from __future__ import annotations

import hashlib

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
from harness.backends.context import ContextWindow, n_ctx_option, spec_options
from harness.errors import UsageError

MODES = ("keyword", "flaky", "nologprobs")


def _noise(text: str) -> float:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") / 2**32


class FakeBackend:
    """Deterministic scripted model."""

    def __init__(self, mode: str, window: ContextWindow | None = None) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown fake mode {mode!r}", hint=f"one of: {', '.join(MODES)}")
        self.mode = mode
        self.window = window
        self.capabilities = Capabilities(logprobs=mode != "nologprobs", tokenizer=True,
                                         max_concurrency=4,
                                         n_ctx=window.n_ctx if window else None,
                                         constrain=frozenset({"labels"}))
        self._seen: set[str] = set()

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, model and adapter identity."""
        return {"backend": "fake", "model": self.mode, "adapter": None}

    def _maybe_fail(self, prompt: str) -> None:
        if self.mode == "flaky" and prompt not in self._seen:
            self._seen.add(prompt)
            if _noise(prompt) < 0.34:
                raise TransientBackendError("fake transient failure")

    def _affinity(self, prompt: str, continuation: str) -> float:
        tail = prompt[-300:].lower()
        word = continuation.strip().lower()
        return (3.0 if word and word in tail else 0.0) + _noise(prompt + continuation)

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score continuations by how visibly they occur near the prompt's end."""
        if not self.capabilities.logprobs:
            raise UsageError("backend fake:nologprobs has no logprobs")
        self._maybe_fail(request.prompt)
        if self.window is not None:
            self.window.check(request, self.count_tokens)
        counts = tuple(max(1, len(c.split())) for c in request.continuations)
        lps = tuple(self._affinity(request.prompt, c) - 5.0 - n
                    for c, n in zip(request.continuations, counts, strict=True))
        return ScoreResponse(lps, counts, self.count_tokens(request.prompt))

    def generate(self, request: GenRequest) -> GenResponse:
        """Return the last capitalised word of the prompt's tail, or 'none'.

        With temperature > 0 it "samples": a seeded share of the draws (half
        the temperature) answers 'none' instead, different for each seed. A
        ``labels`` constraint turns an answer outside the labels into the first
        label (it can constrain nothing else).
        """
        self._maybe_fail(request.prompt)
        if self.window is not None:
            self.window.check(request, self.count_tokens)
        words = [w.strip(".,:;!?") for w in request.prompt[-300:].split()]
        caps = [w for w in words if w.isupper() and len(w) > 2]
        text = caps[-1] if caps else "none"
        if request.temperature > 0 and _noise(f"{request.seed}:{request.prompt}") < (
                request.temperature / 2):
            text = "none"
        if request.constraint is not None:  # labels only (see capabilities)
            choices = request.constraint.choices
            text = next((c for c in choices if c.lower() == text.lower()), choices[0])
        return stop_at(GenResponse(text, self.count_tokens(request.prompt), 1), request.stop)

    def count_tokens(self, text: str) -> int:
        """Whitespace tokens."""
        return len(text.split())

    def close(self) -> None:
        """Nothing to release."""


def create(spec: ModelSpec, options: BackendOptions) -> FakeBackend:
    """Build a fake backend from ``fake:MODE`` or ``fake:MODE?n_ctx=N``.

    Raises:
        UsageError: An unknown mode or option, or a bad ``n_ctx``.
    """
    mode, _, query = spec.model.partition("?")
    opts = spec_options(query, ("n_ctx",), "fake")
    if "n_ctx" not in opts:
        return FakeBackend(mode or "keyword")
    n_ctx = n_ctx_option(opts["n_ctx"], options.n_ctx, None, "fake")
    return FakeBackend(mode or "keyword", ContextWindow(n_ctx, None, f"fake:{mode}"))
