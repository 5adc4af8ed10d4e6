"""Model specs (``backend:model+adapter``) and the table of backend names.

Below the backends so that the task checks (a tone task's judge model) and the
config can parse a spec without importing a backend. The table maps each
backend name to its factory, most as lazy ``module:attr`` strings, so a
backend's module is imported only when it is used
(:func:`harness.backends.base.create`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import UsageError
from harness.registry import Registry

__all__ = ["BACKENDS", "ModelSpec", "parse_spec"]

BACKENDS: Registry[Callable[..., object]] = Registry("backend")
"""Backend name -> factory ``(ModelSpec, BackendOptions) -> Backend``."""


@dataclass(frozen=True)
class ModelSpec:
    """A parsed ``backend:model`` string plus an optional adapter."""

    backend: str
    model: str = ""
    adapter: str | None = None

    def __str__(self) -> str:
        sep = "" if self.model.startswith("?") else ":"  # embedded?n_ctx=8192
        text = f"{self.backend}{sep}{self.model}" if self.model else self.backend
        return text + (f"+{self.adapter}" if self.adapter else "")


def parse_spec(text: str, adapter: str | None = None) -> ModelSpec:
    """Parse ``embedded``, ``embedded?n_ctx=8192``, ``openai:gpt-4o-mini``, ``hf:./path``...

    Options after ``?`` stay in ``model`` (``?n_ctx=8192`` for the default
    embedded model); each backend checks its own.

    Raises:
        UsageError: The prefix is unknown or a model name is missing.
    """
    text = text.strip()
    cut = min((i for i in (text.find(":"), text.find("?")) if i >= 0), default=len(text))
    name, rest = text[:cut], text[cut:]
    model = rest[1:] if rest.startswith(":") else rest
    if name not in BACKENDS:
        BACKENDS.get(name)  # raises with the valid names
    if name != "embedded" and not model.partition("?")[0]:
        raise UsageError(f"model spec {text!r} needs a model after '{name}:'",
                         hint=f"e.g. {name}:MODEL")
    return ModelSpec(backend=name, model=model, adapter=adapter)


# Lazy registrations: the module is imported only when its backend is used.
BACKENDS.add("embedded", "harness.backends.embedded:create")
BACKENDS.add("fake", "harness.backends.fake:create")
BACKENDS.add("openai", "harness.backends.openai_backend:create")
BACKENDS.add("ollama", "harness.backends.ollama_backend:create")
BACKENDS.add("hf", "harness.backends.hf:create")
