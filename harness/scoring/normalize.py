"""Normalising text and values before comparison; flattening JSON to fields.

What is normalised is the task's choice (:class:`~harness.taskspec.Normalize`):
case, whitespace, punctuation, numbers by value. Text is always put in
Unicode NFC first (a decomposed ``é`` is the same text as a precomposed
one), and punctuation means every Unicode punctuation character (category
P: ``。，「」“”¿``) as well as ASCII's ``string.punctuation``.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
from typing import Any

from harness.taskspec import Normalize

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def _drop_punctuation(text: str, repl: str) -> str:
    """Replace ASCII punctuation and every Unicode punctuation character with ``repl``."""
    out = _PUNCT.sub(repl, text)
    if out.isascii():
        return out
    return "".join(repl if unicodedata.category(c).startswith("P") else c for c in out)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def norm_text(text: str, how: Normalize) -> str:
    """Normalise a string as the task says.

    >>> norm_text("  Shipment  Exception Report. ", Normalize(punctuation=True))
    'shipment exception report'
    >>> norm_text("「運送」例外報告。", Normalize(punctuation=True))
    '運送 例外報告'
    """
    out = unicodedata.normalize("NFC", text)
    if how.case:
        out = out.casefold()
    if how.punctuation:
        out = _drop_punctuation(out, " " if how.whitespace else "")
    if how.whitespace:
        out = " ".join(out.split())
    return out


def norm_scalar(value: Any, how: Normalize) -> str:
    """A scalar as a comparable string (numbers by value when ``numbers``).

    >>> how = Normalize()
    >>> norm_scalar("2.50", how), norm_scalar(2.5, how), norm_scalar(True, how)
    ('2.5', '2.5', 'true')
    """
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return _num(float(value)) if how.numbers else json.dumps(value)
    text = str(value)
    if how.numbers and _NUMBER.match(text.strip()):
        return _num(float(text))
    return norm_text(text, how)


def _num(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def flatten(obj: Any, how: Normalize, prefix: str = "") -> Counter[tuple[str, str]]:
    """Fields of a JSON value as a multiset of ``(path, normalised value)``.

    Nested keys are joined with dots; list items share the path ``key[]``
    (lists compare as multisets, order-free); empty objects and lists are
    fields of their own.

    >>> sorted(flatten({"a": {"b": 1}, "c": ["x", "x"]}, Normalize()).items())
    [(('a.b', '1'), 1), (('c[]', 'x'), 2)]
    """
    out: Counter[tuple[str, str]] = Counter()
    if isinstance(obj, dict):
        if not obj:
            out[(prefix, "{}")] += 1
        for key, value in obj.items():
            out += flatten(value, how, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, list):
        if not obj:
            out[(prefix, "[]")] += 1
        for item in obj:
            out += flatten(item, how, f"{prefix}[]")
    else:
        out[(prefix, norm_scalar(obj, how))] += 1
    return out


def prf(gold: Counter[tuple[str, str]], pred: Counter[tuple[str, str]]
        ) -> tuple[float, float, float, int]:
    """Precision, recall, F1 and matched count of two field multisets.

    Two empty sides agree perfectly (1.0 each).
    """
    tp = sum((gold & pred).values())
    n_gold, n_pred = sum(gold.values()), sum(pred.values())
    if n_gold == 0 and n_pred == 0:
        return 1.0, 1.0, 1.0, 0
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp
