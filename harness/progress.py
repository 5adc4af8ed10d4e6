"""What a long run reports while it works: the events, and who listens to them.

The runner reports to a :class:`RunListener`: the run starting (its id), each
(task, variant, model, split) step starting and finishing (examples, errors,
seconds), each example finished, and free-form stage lines (a training
epoch, an adapter written). The CLI turns them into a progress bar in a
terminal and into log lines otherwise; a plain ``(done, total, label)``
callable still works (:func:`as_listener`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["ExampleCallback", "RunListener", "Step", "StepTracker", "as_listener"]

ExampleCallback = Callable[[int, int, str], None]
"""The older progress form: called as ``(done, total, label)`` after each example."""


@dataclass(frozen=True)
class Step:
    """One (task, variant, model, split) of a run."""

    task: str
    variant: str
    model: str
    split: str

    def __str__(self) -> str:
        return f"{self.task} / {self.variant} / {self.model} / {self.split}"


class RunListener:
    """Receives a run's progress events; every method does nothing unless overridden."""

    def run_started(self, run_id: str, total: int, done: int, resumed: bool) -> None:
        """The run has an id: ``total`` examples (samples counted), ``done`` already stored."""

    def step_started(self, step: Step, examples: int) -> None:
        """The first request of ``step`` (``examples`` still to do) was sent."""

    def step_finished(self, step: Step, examples: int, errors: int, seconds: float) -> None:
        """The last example of ``step`` finished; ``errors`` of them failed after retries."""

    def example_done(self, done: int, total: int, label: str) -> None:
        """One more example is stored: ``done`` of ``total`` (``label``: task/variant)."""

    def note(self, line: str) -> None:
        """A stage line worth a person's attention (a training epoch, an adapter written)."""


class _Callback(RunListener):
    def __init__(self, fn: ExampleCallback) -> None:
        self._fn = fn

    def example_done(self, done: int, total: int, label: str) -> None:
        self._fn(done, total, label)


def as_listener(progress: RunListener | ExampleCallback | None) -> RunListener:
    """A listener from a listener, a ``(done, total, label)`` callable, or nothing."""
    if progress is None:
        return RunListener()
    if isinstance(progress, RunListener):
        return progress
    return _Callback(progress)


class StepTracker:
    """Turns one group's example completions into per-split start and finish events.

    Args:
        listener: Where the events go.
        task, variant, model: The group.
        splits: The split of every example of the group still to do, in order.
        clock: Seconds, monotonic (a test passes its own).
    """

    def __init__(self, listener: RunListener, task: str, variant: str, model: str,
                 splits: Iterable[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._listener = listener
        self._group = (task, variant, model)
        self._size = Counter(splits)
        self._left = Counter(self._size)
        self._errors: Counter[str] = Counter()
        self._start: dict[str, float] = {}
        self._clock = clock

    def _step(self, split: str) -> Step:
        return Step(*self._group, split)

    def submitted(self, split: str) -> None:
        """An example of ``split`` was sent: the first one starts the step."""
        if split not in self._start:
            self._start[split] = self._clock()
            self._listener.step_started(self._step(split), self._size[split])

    def completed(self, split: str, failed: bool) -> None:
        """An example of ``split`` finished: the last one finishes the step."""
        self._left[split] -= 1
        self._errors[split] += failed
        if self._left[split] == 0:
            seconds = self._clock() - self._start.get(split, self._clock())
            self._listener.step_finished(self._step(split), self._size[split],
                                         self._errors[split], seconds)
