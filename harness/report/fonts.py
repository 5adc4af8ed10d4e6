"""Fonts for the figures: labels in any script render, not as empty boxes.

Matplotlib (3.6 and later) falls back glyph by glyph through a list of font
families. The list is DejaVu Sans (matplotlib's own) followed by the
wide-coverage fonts installed on this machine: Noto Sans and its script
families (Debian's ``fonts-noto-core``), Noto Sans CJK (``fonts-noto-cjk``)
and Symbola (``fonts-symbola``, monochrome emoji: matplotlib cannot draw
colour-bitmap emoji fonts). ``.ci/run`` installs them; where they are
missing, the figures are drawn as before and an unsupported glyph is a box.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import matplotlib
from matplotlib import font_manager

__all__ = ["FALLBACK", "font_families", "with_fonts"]

FALLBACK = ("DejaVu Sans", "Noto Sans", "Noto Sans CJK JP", "Noto Sans Arabic",
            "Noto Sans Hebrew", "Noto Sans Devanagari", "Noto Sans Bengali", "Noto Sans Tamil",
            "Noto Sans Thai", "Noto Sans Armenian", "Noto Sans Georgian", "Noto Sans Ethiopic",
            "Noto Sans Symbols", "Noto Sans Symbols2", "Symbola")
"""Families in fallback order; those not installed are left out."""

P = ParamSpec("P")
R = TypeVar("R")


def _installed(family: str) -> bool:
    try:
        font_manager.findfont(font_manager.FontProperties(family=family),
                              fallback_to_default=False)
    except ValueError:
        return False
    return True


def font_families() -> list[str]:
    """The :data:`FALLBACK` families installed here, in order (DejaVu Sans always)."""
    return [f for f in FALLBACK if f == "DejaVu Sans" or _installed(f)]


def with_fonts(draw: Callable[P, R]) -> Callable[P, R]:
    """Run a figure-drawing function with the fallback font list as ``font.family``."""
    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with matplotlib.rc_context({"font.family": font_families()}):
            return draw(*args, **kwargs)

    return wrapper
