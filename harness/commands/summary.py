"""The end of ``run``, ``gate`` and ``compare-base``: the table, the headline, the paths."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands.screen import color_allowed, is_terminal, out, terminal_width

if TYPE_CHECKING:
    from harness.report.terminal import Row

__all__ = ["show_summary"]


def _table(rows: Sequence[Row], titles: Sequence[str]) -> None:
    from harness.report.terminal import NARROW, plain_lines, rich_table, stacked_lines

    if not is_terminal(sys.stdout):
        for line in plain_lines(rows, titles):
            out(line)
        return
    width = terminal_width()
    if width < NARROW:
        for line in stacked_lines(rows, titles):
            out(line)
        return
    from rich.console import Console

    Console(file=sys.stdout, width=width, no_color=not color_allowed(),
            highlight=False).print(rich_table(rows, titles))


def _headline(text: str) -> None:
    if is_terminal(sys.stdout) and color_allowed():
        from rich.console import Console
        from rich.text import Text

        from harness.report.terminal import verdict_style

        Console(file=sys.stdout, highlight=False).print(
            Text(text, style=f"bold {verdict_style(text)}".strip()))
    else:
        out(text)


def show_summary(rows: Sequence[Row], titles: Sequence[str], headline: str,
                 gate_line: str | None, paths: Sequence[tuple[str, Path | None]]) -> None:
    """Print the table, the headline, the gate's rule and one path per line.

    ``paths`` are (what, path) pairs; a None path is skipped, and consecutive
    paths of one kind share the label (``report:`` then the report's files).
    """
    if rows:
        _table(rows, titles)
        out("")
    _headline(headline)
    if gate_line:
        out(gate_line)
    width = max((len(what) for what, p in paths if p is not None), default=0) + 2
    last = None
    for what, path in paths:
        if path is None:
            continue
        label = f"{what}:" if what != last else ""
        out(f"{label:<{width}}{path}")
        last = what
