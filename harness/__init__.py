"""tunegate: does fine-tuning beat prompting by enough to pay for itself?

The Python API of the gate is ``harness.gate(config, ...)`` (imported lazily,
so ``import harness`` stays cheap).
"""

from __future__ import annotations

from typing import Any

from harness.errors import UsageError

__all__ = ["UsageError", "__version__", "gate"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "gate":
        from harness.gating import gate

        return gate
    raise AttributeError(name)
