"""The one backend interface: ``generate`` for text, ``score`` for label log-likelihoods.

Backends are registered with :func:`backend` under the prefix of a model
spec (``embedded``, ``openai:MODEL``, ``ollama:MODEL``, ``hf:PATH``,
``fake:SCRIPT``); :func:`parse_spec` turns the string into a
:class:`ModelSpec` in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, cast

from harness.backends.constrain import Constraint
from harness.modelspec import BACKENDS as BACKENDS
from harness.modelspec import ModelSpec as ModelSpec
from harness.modelspec import parse_spec as parse_spec


class TransientBackendError(RuntimeError):
    """A failure worth retrying: connection drop, timeout, 429 or 5xx.

    Args:
        message: What happened.
        retry_after: Seconds the server asked us to wait, when it said.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class GenRequest:
    """Generate a completion of ``prompt``.

    ``constraint`` limits what may be decoded (see :mod:`harness.backends.constrain`);
    ``system`` is a system prompt, sent as the system message by a backend whose
    ``capabilities.chat`` is true (the planner prepends it to the prompt otherwise).
    """

    prompt: str
    max_tokens: int = 32
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    seed: int = 0
    constraint: Constraint | None = None
    system: str = ""


@dataclass(frozen=True)
class GenResponse:
    """A completion with the token counts the economics need."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ScoreRequest:
    """Log-likelihood of each continuation given ``prompt`` (all its tokens)."""

    prompt: str
    continuations: tuple[str, ...]
    system: str = ""


@dataclass(frozen=True)
class ScoreResponse:
    """Summed log-probabilities and token counts, one per continuation."""

    logprobs: tuple[float, ...]
    token_counts: tuple[int, ...]
    prompt_tokens: int


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, decided once, not by per-quirk flags."""

    logprobs: bool
    tokenizer: bool
    max_concurrency: int = 1
    remote_echo_scoring: bool = False
    """Label scores come from a server's echoed prompt logprobs: one request per
    label, slow with a large vocabulary (about 20 s each on llama.cpp's server)."""
    n_ctx: int | None = None
    """The context window in tokens that tunegate enforces (local backends)."""
    constrain: frozenset[str] = frozenset()
    """The output constraints it can enforce: ``schema``, ``labels``, ``regex``."""
    chat: bool = False
    """Prompts go through the model's chat template, so a system prompt is a system message."""


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest occurrence of any stop string, and whether it was cut.

    The one meaning of a stop list, applied on the client by every backend
    (a server may apply only some: the OpenAI API takes at most four).
    Empty stop strings are ignored; the stop string itself is not kept.

    >>> cut_at_stop("Paris (France)", (".", " ("))
    ('Paris', True)
    """
    cuts = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return (text[:min(cuts)], True) if cuts else (text, False)


def stop_at(response: GenResponse, stop: Sequence[str]) -> GenResponse:
    """``response`` with its text cut at the stop list (finish reason ``stop`` if cut)."""
    text, cut = cut_at_stop(response.text, stop)
    return replace(response, text=text, finish_reason="stop") if cut else response


class Backend(Protocol):
    """A model behind one small interface.

    ``identity`` is what makes a cached response valid: the backend name,
    a digest of the model weights (or the remote model id) and the adapter
    digest (or ``None``).
    """

    capabilities: Capabilities

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, model digest and adapter digest for the cache key."""
        ...

    def generate(self, request: GenRequest) -> GenResponse:
        """Complete one prompt, the text cut at the earliest stop string (:func:`cut_at_stop`).

        Raises:
            TransientBackendError: Worth retrying (connection, timeout, 429, 5xx).
            ExampleError: This request cannot be answered (too long for the
                context, refused by the server); other examples may be.
            UsageError: The backend cannot work at all (key, model, options).
        """
        ...

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score each continuation of one prompt (needs ``capabilities.logprobs``)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Count tokens with the backend's tokenizer (approximate if it has none)."""
        ...

    def close(self) -> None:
        """Release the model or connection."""
        ...


@dataclass(frozen=True)
class BackendOptions:
    """Settings for creating a backend that do not belong in the spec string."""

    cache_dir: str | None = None
    seed: int = 0
    n_ctx: int = 2048
    extra: dict[str, str] = field(default_factory=dict)


Factory = Callable[[ModelSpec, BackendOptions], Backend]


def backend(name: str) -> Callable[[Factory], Factory]:
    """Register a backend factory under the spec prefix ``name``."""
    def deco(factory: Factory) -> Factory:
        BACKENDS.add(name, factory)
        return factory
    return deco


def create(spec: ModelSpec, options: BackendOptions) -> Backend:
    """Build the backend for ``spec``."""
    return cast(Backend, BACKENDS.get(spec.backend)(spec, options))
