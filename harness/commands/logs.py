"""Where log records go: one line each on the terminal, everything in the run's log file.

By default the terminal (standard error) shows tunegate's warnings and
errors and, when standard error is not a terminal, the progress lines that
replace the progress bar. Other libraries' messages and warnings (Python
``warnings`` are captured into logging) and llama.cpp's log lines go only
to the run's log file, ``<store>/logs/<run-id>.log``; ``-v`` shows them and
tunegate's debug lines on the terminal too. Records made before the run has
an id are kept in memory and written when the file opens; a log file that
cannot be written costs one warning line, never the run.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from harness.commands.screen import err, silence
from harness.quiet import BAR_SWITCHES, adopt_transformers_logging

__all__ = ["PROGRESS", "Logs"]

PROGRESS = "harness.progress"
"""The logger of progress lines (steps, heartbeats, training epochs)."""
_CHATTY = {"httpx": logging.WARNING, "httpcore": logging.WARNING}  # a line per request
_BUFFER = 20_000  # records kept until the run's log file opens
_FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _under(name: str, parent: str) -> bool:
    return name == parent or name.startswith(parent + ".")


class _ConsoleFilter(logging.Filter):
    """Which records reach the terminal (see the module docstring)."""

    def __init__(self, verbose: bool, terminal: bool) -> None:
        super().__init__()
        self.verbose, self.terminal = verbose, terminal

    def filter(self, record: logging.LogRecord) -> bool:
        if _under(record.name, PROGRESS):
            return not self.terminal or bool(getattr(record, "screen", False))
        if _under(record.name, "harness"):
            return self.verbose or record.levelno >= logging.WARNING
        return self.verbose and record.levelno >= logging.INFO


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if _under(record.name, PROGRESS):
            stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
            return f"{stamp} {record.getMessage()}"
        return f"{record.levelname} {record.name}: {record.getMessage()}"


class _Console(logging.Handler):
    """One line per record on the current ``sys.stderr``, or through a live display's printer."""

    def __init__(self) -> None:
        super().__init__()
        self.printer: Callable[[str], None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if self.printer is not None:
                self.printer(text)
                return
            stream: TextIO = sys.stderr
            stream.write(text + "\n")
            stream.flush()
        except BrokenPipeError:
            silence(sys.stderr)
        except Exception:  # a log line must never end the run
            pass


def _not_third_party_debug(record: logging.LogRecord) -> bool:
    """Other libraries' DEBUG records stay out (HTTP clients print raw headers: keys)."""
    return _under(record.name, "harness") or record.levelno >= logging.INFO


class _RunLog(logging.Handler):
    """The run's log file: records are held in memory until :meth:`open` names the file."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(_FILE_FORMAT))
        self.addFilter(_not_third_party_debug)
        self._held: deque[str] = deque(maxlen=_BUFFER)
        self._file: TextIO | None = None
        self._gone = False  # no file after all: records are dropped
        self.path: Path | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._gone:
            return
        try:
            text = self.format(record)
            if self._file is None:
                self._held.append(text)
            else:
                self._file.write(text + "\n")
                self._file.flush()
        except Exception:  # a full disk must not end the run; the file just stops
            self._gone = True

    def open(self, path: Path) -> None:
        """Open ``path`` for appending and write the held records into it.

        Raises:
            OSError: The directory cannot be made or the file cannot be written.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a", encoding="utf-8")
        self.acquire()
        try:
            handle.writelines(line + "\n" for line in self._held)
            handle.flush()
            self._held.clear()
            if self._file is not None:
                self._file.close()
            self._file, self.path = handle, path
        finally:
            self.release()

    def drop(self) -> None:
        """No log file after all: forget the held records and ignore later ones."""
        self._gone = True
        self._held.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


class Logs:
    """One command's logging: created by ``main``, closed when the command ends.

    Args:
        verbose: ``-v``: other libraries' messages, warnings and progress bars,
            and tunegate's debug lines, on the terminal too.
        terminal: Standard error is a terminal (progress is a bar, not lines).
    """

    def __init__(self, verbose: bool, terminal: bool) -> None:
        self.verbose, self.terminal = verbose, terminal
        self._console = _Console()
        self._console.addFilter(_ConsoleFilter(verbose, terminal))
        self._console.setFormatter(_ConsoleFormatter())
        self._file = _RunLog()
        self._levels: dict[str, int] = {}
        self._env: list[str] = []

    def start(self) -> None:
        """Install the handlers, capture ``warnings``, turn other libraries' bars off."""
        if not self.verbose:
            for key, value in BAR_SWITCHES.items():
                if key not in os.environ:  # the user's own setting wins
                    os.environ[key] = value
                    self._env.append(key)
        root = logging.getLogger()
        # INFO at least (a caller's DEBUG is kept); third-party DEBUG never reaches a handler
        # of ours (the filters), tunegate's always reaches the file.
        caller_debug = root.getEffectiveLevel() <= logging.DEBUG  # e.g. a test's caplog
        levels = {"": min(root.getEffectiveLevel(), logging.INFO), "harness": logging.DEBUG,
                  **({} if caller_debug else _CHATTY)}
        for name, level in levels.items():
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(level)
        root.addHandler(self._console)
        root.addHandler(self._file)
        logging.captureWarnings(True)
        if "transformers" in sys.modules:  # imported already: its handler, its bars
            adopt_transformers_logging()

    def open_run_log(self, path: Path) -> Path | None:
        """Write the log to ``path`` from now on (appending); None when it cannot be written."""
        try:
            self._file.open(path)
        except OSError as exc:
            self._file.drop()
            err(f"{path}: cannot write the run's log ({exc.strerror or exc}); the run goes on "
                "without it")
            return None
        return path

    @property
    def path(self) -> Path | None:
        """The run's log file, once open."""
        return self._file.path

    def set_printer(self, printer: Callable[[str], None] | None) -> None:
        """Print terminal lines through ``printer`` (a live progress display) or, None, directly."""
        self._console.printer = printer

    def close(self) -> None:
        """Remove the handlers and restore the levels, ``warnings`` and the environment."""
        logging.captureWarnings(False)
        root = logging.getLogger()
        for handler in (self._console, self._file):
            root.removeHandler(handler)
            handler.close()
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)
        for key in self._env:
            os.environ.pop(key, None)
