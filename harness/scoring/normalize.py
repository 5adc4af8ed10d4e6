"""Normalising text before comparison, as the task says.

What is normalised is the task's choice (:class:`~harness.taskspec.Normalize`):
case, whitespace, punctuation, numbers by value. :func:`norm_text` lives in
:mod:`harness.textnorm`, so that loading (the glossary checks) normalises
exactly as the scorers do. The fields of a JSON answer and how leaf values
compare are in :mod:`harness.scoring.fields`.
"""

from __future__ import annotations

import re

from harness.textnorm import norm_text

__all__ = ["NUMBER", "norm_text"]

NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
"""A number written as text (``"2.50"``, ``"-1e3"``): compared by value when ``numbers``."""
