"""llama.cpp's process-wide state, touched from one place and under one lock.

Two things about llama.cpp belong to the whole process, not to one model:

- its log callback (``llama_log_set``): set once here, it sends every C-level
  log line to the ``harness.native`` logger at DEBUG (the run's log file, or
  the terminal with ``-v``) instead of the terminal;
- file descriptors 1 and 2: llama-cpp-python's ``Llama(verbose=False)`` points
  them at ``/dev/null`` while a model loads (``suppress_stdout_stderr``) and
  back afterwards. Two loads in two threads interleave those ``dup2`` calls,
  and one thread can restore the other's ``/dev/null``: stdout and stderr then
  stay silenced for the rest of the process (``tunegate run ... | cat`` printed
  nothing). :meth:`LlamaRuntime.load` runs every load under one lock, so the
  redirect is only ever made and undone by one thread at a time.

Every llama.cpp model in tunegate is built through :data:`LLAMA`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class LlamaRuntime:
    """The one guard of llama.cpp's process-wide state (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callback: object | None = None  # the ctypes callback must stay alive

    def _route_logs(self) -> None:
        """Send llama.cpp's log lines to our logger at DEBUG (once; under the lock)."""
        if self._callback is not None:
            return
        import llama_cpp

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def _cb(level: int, text: bytes, user_data: object) -> None:
            log.debug("llama.cpp: %s", text.decode("utf-8", "replace").rstrip())

        llama_cpp.llama_log_set(_cb, None)
        self._callback = _cb

    def load(self, build: Callable[[], T]) -> T:
        """Run ``build`` (a llama.cpp model or context constructor) under the lock.

        Returns:
            What ``build`` returned; its exceptions propagate unchanged.
        """
        with self._lock:
            self._route_logs()
            return build()


LLAMA = LlamaRuntime()
"""The process's one :class:`LlamaRuntime` (its state is the C library's, process-wide)."""
