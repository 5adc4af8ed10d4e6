"""One generic registry for every extension point (scorers, backends, variant kinds).

Names are unique, lookups of unknown names list the valid ones with a
did-you-mean, and entries may be lazy ``module:attr`` strings so heavy
optional dependencies are imported only when asked for.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from harness.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of objects of one kind.

    Args:
        kind: What the entries are, used in error messages ("scorer").
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._frozen = False

    def add(self, name: str, entry: T | str) -> None:
        """Register ``entry`` (an object or a lazy ``module:attr``) under ``name``."""
        if self._frozen:
            raise RuntimeError(f"{self.kind} registry is frozen; cannot add {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry

    def register(self, name: str) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``."""

        def deco(obj: T) -> T:
            self.add(name, obj)
            return obj

        return deco

    def get(self, name: str) -> T:
        """Return the entry for ``name``, importing it if it is lazy.

        Raises:
            UsageError: ``name`` is unknown; the message lists valid names.
        """
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UsageError(
                f"unknown {self.kind} {name!r}",
                hint=f"{hint}valid: {', '.join(sorted(self._entries))}",
            )
        entry = self._entries[name]
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            # Not stored back: the table is written only by ``add`` (at import),
            # and Python's module cache already makes a second look-up cheap.
            loaded: T = getattr(importlib.import_module(module), attr)
            return loaded
        return entry

    def freeze(self) -> None:
        """Refuse further registrations (called once start-up is over)."""
        self._frozen = True

    def names(self) -> list[str]:
        """Return the registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
