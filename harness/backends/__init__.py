"""Model backends behind one interface."""

from harness.backends.base import (
    BACKENDS,
    Backend,
    BackendOptions,
    Capabilities,
    GenRequest,
    GenResponse,
    ModelSpec,
    ScoreRequest,
    ScoreResponse,
    TransientBackendError,
    backend,
    create,
    parse_spec,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendOptions",
    "Capabilities",
    "GenRequest",
    "GenResponse",
    "ModelSpec",
    "ScoreRequest",
    "ScoreResponse",
    "TransientBackendError",
    "backend",
    "create",
    "parse_spec",
]
