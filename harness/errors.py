"""The one exception for user mistakes.

Anything raised as :class:`UsageError` is printed by the CLI as a single
``path:line: message`` line (plus an optional hint) and exits with code 2.
Any other exception is a bug in tunegate and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class UsageError(Exception):
    """A mistake the user can fix: bad file, bad field, unreachable server.

    Args:
        message: What is wrong, in one sentence.
        path: The file (or URL) the mistake is in, when there is one.
        line: The 1-based line in ``path``, when known.
        hint: What to do about it (valid choices, an install command).
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    def location(self) -> str:
        """Return ``path:line`` (or ``path`` or empty) for the message prefix."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def one_line(self) -> str:
        """Return the message as the CLI prints it, hint included."""
        loc = self.location()
        text = f"{loc}: {self.message}" if loc else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def __str__(self) -> str:
        return self.one_line()


class ExampleError(UsageError):
    """A mistake that concerns one example only: the runner records it and goes on.

    An input longer than the model's context, a request the server refuses
    (HTTP 400, 413, 422) or answers without a usable body, a template that
    fails on this input. Where no runner catches it (a one-off command), it
    is an ordinary :class:`UsageError`: one line, exit 2.
    """
