"""What the CLI does with an exception that is not a user mistake: a bug in tunegate.

Exit code 1 means "the gate failed" to a CI job, so a crash must never exit
with it. The CLI exits with 70 (``EX_SOFTWARE`` of BSD ``sysexits.h``,
"an internal software error"), prints one line that names the exception and
a log file, and writes the full traceback there: under the store folder
(``STORE/logs/``), or the system's temporary folder when that cannot be
written.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h)


def write_crash_log(exc: BaseException, store: str | Path | None,
                    argv: Sequence[str] | None = None) -> Path | None:
    """Write ``exc``'s traceback to a new log file; return its path (``None``: nowhere writable).

    Args:
        exc: The unexpected exception.
        store: The store folder (``.tunegate``); the log goes to its ``logs/``.
        argv: The command line, recorded in the log.
    """
    from harness import __version__

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"crash-{stamp}-{os.getpid()}.log"
    head = (f"tunegate {__version__} (Python {sys.version.split()[0]}) crashed at {stamp}\n"
            f"command: tunegate {' '.join(argv if argv is not None else sys.argv[1:])}\n\n")
    body = "".join(traceback.format_exception(exc))
    folders = ([Path(store) / "logs"] if store else []) + [
        Path(tempfile.gettempdir()) / "tunegate"]
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(head + body, encoding="utf-8")
        except OSError:
            continue
        return path.resolve()
    return None


def crash_line(exc: BaseException, log: Path | None) -> str:
    """The line the CLI prints for a crash, naming the log.

    When no log could be written the traceback follows the line, so it is never lost.
    """
    what = (f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__])[0][:200]
    line = "internal error (a bug in tunegate, not a failed gate): " + what
    if log is None:
        return (line + "; no log could be written, traceback follows\n"
                + "".join(traceback.format_exception(exc)).rstrip("\n"))
    return f"{line}; traceback in {log}; please report it"
