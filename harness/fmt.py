"""Numbers read from and written into results, with NaN handled in one place.

A results value may be missing, ``None``, NaN or not a number at all (a
skipped metric); every reader and formatter here turns those into NaN or a
dash instead of raising, so each report and message shows them the same way.
"""

from __future__ import annotations

import math


def num(value: object) -> float:
    """A float from a results value; NaN for None, NaN or anything not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)
