"""``Memo``: a thread-safe cache owned by an object with a lifetime.

tunegate keeps no cache at module level: a cache is a ``Memo`` held by the
object whose lifetime it shares (a loaded :class:`~harness.tasks.Task` holds
its tone scorers' style models and embeddings), so it goes when that object
goes and two tasks never see each other's entries. Every read and write is
under one lock, so the runner's scoring threads may share it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["Memo"]


class Memo(Generic[K, V]):
    """A dict cache with a lock and an optional size bound.

    Args:
        max_entries: When a write would take it past this many entries it is
            emptied first (under the lock, so no reader sees it half-cleared).
            ``None``: unbounded.
    """

    def __init__(self, max_entries: int | None = None) -> None:
        self._lock = threading.Lock()
        self._data: dict[K, V] = {}
        self._max = max_entries

    def get_or_make(self, key: K, make: Callable[[], V]) -> V:
        """The value for ``key``, made (once, under the lock) when absent."""
        with self._lock:
            if key not in self._data:
                self._room(1)
                self._data[key] = make()
            return self._data[key]

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The values present for ``keys`` (absent keys are left out)."""
        with self._lock:
            return {k: self._data[k] for k in keys if k in self._data}

    def put_many(self, items: Mapping[K, V]) -> None:
        """Store ``items``, emptying the memo first if they would not fit its bound."""
        with self._lock:
            self._room(len(items))
            self._data.update(items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def _room(self, n: int) -> None:
        if self._max is not None and len(self._data) + n > self._max:
            self._data.clear()
