"""Normalising text before comparison, as the task says.

What is normalised is the task's choice (:class:`~harness.taskspec.Normalize`):
case, whitespace, punctuation, numbers by value. The fields of a JSON answer
and how leaf values compare are in :mod:`harness.scoring.fields`.
"""

from __future__ import annotations

import re
import string

from harness.taskspec import Normalize

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
"""A number written as text (``"2.50"``, ``"-1e3"``): compared by value when ``numbers``."""


def norm_text(text: str, how: Normalize) -> str:
    """Normalise a string as the task says.

    >>> norm_text("  Shipment  Exception Report. ", Normalize(punctuation=True))
    'shipment exception report'
    """
    out = text
    if how.case:
        out = out.casefold()
    if how.punctuation:
        out = _PUNCT.sub(" " if how.whitespace else "", out)
    if how.whitespace:
        out = " ".join(out.split())
    return out
