"""Writing to the screen: one line at a time, quietly when the reader has gone away.

``tunegate run ... | head`` closes the pipe after a few lines; the next write
raises ``BrokenPipeError``. :func:`out` and :func:`err` then point that stream
at ``/dev/null`` (the recipe of the Python docs' signal notes) and carry on,
so the run finishes, its report is written and it exits with its own code.
Only the main thread does this: a process-wide descriptor is changed from
one thread, once.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

__all__ = ["color_allowed", "err", "is_terminal", "out", "silence", "terminal_width"]


def silence(stream: TextIO) -> None:
    """Send the rest of ``stream``'s output to ``/dev/null`` (its reader has gone away).

    A no-op outside the main thread or for a stream without a descriptor.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        silence(stream)


def out(text: str) -> None:
    """One line (or several) to standard output; a closed pipe ends output quietly."""
    _write(sys.stdout, text)


def err(text: str) -> None:
    """One line (or several) to standard error; a closed pipe ends output quietly."""
    _write(sys.stderr, text)


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal (False for pipes, files, test captures)."""
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):
        return False


def color_allowed() -> bool:
    """Colour on standard output: a terminal, ``NO_COLOR`` unset or empty, ``TERM`` not dumb.

    ``NO_COLOR``: https://no-color.org (any non-empty value turns colour off).
    """
    return (is_terminal(sys.stdout) and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM") != "dumb")


def terminal_width(default: int = 100) -> int:
    """Columns of the terminal on standard output (``COLUMNS`` wins; ``default`` if unknown)."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return default
