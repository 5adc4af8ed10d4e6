"""Numbers read from and written into results, with NaN handled in one place.

A results value may be missing, ``None``, NaN or not a number at all (a
skipped metric); every reader and formatter here turns those into NaN or a
dash instead of raising, so each report and message shows them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def num(value: object) -> float:
    """A float from a results value; NaN for None, NaN or anything not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


NA = "n/a"
"""What a missing, NaN or non-numeric value prints as."""


def number(value: object, spec: str, scale: float = 1.0, suffix: str = "") -> str:
    """``value`` times ``scale`` in format ``spec`` plus ``suffix``, or ``n/a``.

    ``n/a`` (without the suffix) for None, NaN, a bool or anything not a number.
    """
    v = num(value)
    return NA if math.isnan(v) else f"{scale * v:{spec}}{suffix}"


def pct(value: object) -> str:
    """A share as a percentage, one decimal: ``0.853`` -> ``85.3``."""
    return number(value, ".1f", 100)


def pp(value: object, suffix: str = "") -> str:
    """A difference of shares in percentage points, signed: ``0.021`` -> ``+2.1``."""
    return number(value, "+.1f", 100, suffix)


def signed(value: object, digits: int = 3) -> str:
    """A signed number with ``digits`` decimals: ``0.0213`` -> ``+0.021``."""
    return number(value, f"+.{digits}f")


def points(value: object) -> str:
    """:func:`pp` with its unit: ``0.021`` -> ``+2.1 pp`` (``n/a`` alone when missing)."""
    return pp(value, " pp")


def interval(low: object, high: object, fmt: Callable[[object], str] = pct) -> str:
    """``[low, high]`` each in ``fmt`` (default :func:`pct`), or ``n/a`` when either is missing."""
    if math.isnan(num(low)) or math.isnan(num(high)):
        return NA
    return f"[{fmt(low)}, {fmt(high)}]"


def p_value(value: object) -> str:
    """A p-value to three decimals, ``<0.001`` below that, or ``n/a``."""
    v = num(value)
    return NA if math.isnan(v) else "<0.001" if v < 0.001 else f"{v:.3f}"
