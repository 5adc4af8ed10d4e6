"""What a person sees while a run works: a bar in a terminal, log lines otherwise.

Every event becomes a line of the ``harness.progress`` logger, so the run's
log file always has them: one line when each (task, variant, model, split)
starts and finishes (examples, errors, seconds), a heartbeat at most every
``heartbeat_s`` seconds with done/total and an estimated time left, and the
training lines (one per epoch, one per adapter written). When standard error
is a terminal a rich progress bar shows instead and only the training lines
are printed above it; otherwise the lines are the display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.commands.logs import PROGRESS, Logs
from harness.progress import RunListener, Step

__all__ = ["Feedback", "duration"]

log = logging.getLogger(PROGRESS)


def duration(seconds: float) -> str:
    """A short human duration.

    Example:
        >>> duration(42.4), duration(754), duration(7384)
        ('42 s', '12 min 34 s', '2 h 03 min')
    """
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class _Bar:
    """The rich progress bar on standard error, started at the first finished example."""

    def __init__(self, logs: Logs) -> None:
        self._logs = logs
        self._progress: Any = None
        self._task: Any = None

    def update(self, done: int, total: int, label: str) -> None:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            console = Console(stderr=True)
            # No redirect of sys.stdout/sys.stderr (process-wide): log lines are printed
            # through the bar's console instead, above the bar.
            self._progress = Progress("[progress.description]{task.description}", BarColumn(),
                                      MofNCompleteColumn(), TimeRemainingColumn(),
                                      console=console, transient=True,
                                      redirect_stdout=False, redirect_stderr=False)
            self._progress.start()
            self._task = self._progress.add_task(label, total=total, completed=done - 1)
            self._logs.set_printer(
                lambda text: console.print(text, markup=False, highlight=False))
        self._progress.update(self._task, completed=done, total=total, description=label)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._logs.set_printer(None)


class Feedback(RunListener):
    """The CLI's listener for one command's run (or runs).

    Args:
        logs: The command's logging; the run's log file opens when the run has an id.
        store: The store directory (the log goes to ``store/logs/RUN.log``), or None.
        heartbeat_s: Fewest seconds between two heartbeat lines.
        clock: Seconds, monotonic (a test passes its own).
    """

    def __init__(self, logs: Logs, store: Path | None, heartbeat_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._logs, self._store = logs, store
        self._bar = _Bar(logs) if logs.terminal else None
        self._heartbeat_s, self._clock = heartbeat_s, clock
        self._t0 = self._last = clock()
        self._done0 = 0

    def run_started(self, run_id: str, total: int, done: int, resumed: bool) -> None:
        """Open the run's log file and say what is to do."""
        if self._store is not None and self._logs.path is None:
            self._logs.open_run_log(self._store / "logs" / f"{run_id}.log")
        self._t0 = self._last = self._clock()
        self._done0 = done
        verb = "resuming" if resumed else "starting"
        log.info("%s run %s: %d examples, %d already stored", verb, run_id, total, done)

    def step_started(self, step: Step, examples: int) -> None:
        """One line: the step and how many examples it has to do."""
        log.info("start %s: %d examples", step, examples)

    def step_finished(self, step: Step, examples: int, errors: int, seconds: float) -> None:
        """One line: the step's examples, errors and seconds."""
        log.info("done  %s: %d examples, %d errors, %.1f s", step, examples, errors, seconds)

    def example_done(self, done: int, total: int, label: str) -> None:
        """Move the bar; a heartbeat line when ``heartbeat_s`` have passed since the last."""
        if self._bar is not None:
            self._bar.update(done, total, label)
        now = self._clock()
        if now - self._last < self._heartbeat_s:
            return
        self._last = now
        rate = (done - self._done0) / max(now - self._t0, 1e-9)
        eta = duration((total - done) / rate) if rate > 0 else "unknown"
        log.info("progress: %d/%d examples (%d%%), %s elapsed, about %s left", done, total,
                 100 * done // max(total, 1), duration(now - self._t0), eta)

    def note(self, line: str) -> None:
        """A training line: shown in a terminal too."""
        log.info("%s", line, extra={"screen": True})

    def close(self) -> None:
        """Stop the bar (before the command prints its summary)."""
        if self._bar is not None:
            self._bar.stop()
