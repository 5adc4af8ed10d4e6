"""The fields of a JSON answer: one definition for the scorers, the report's diff and plot.

A field is a leaf of the JSON tree: a scalar, or an empty object or list.
Its path is a tuple of object keys (``str``) and list positions (``int``),
written as a JSON Pointer (RFC 6901), so a key holding a dot or a slash is
one key: ``{"ref.id": "7"}`` and ``{"ref": {"id": "7"}}`` share no field.

Two answers are compared field by field (:func:`compare`):

- objects key by key;
- lists as collections of whole items, order-free: each output item is
  paired with at most one gold item by an optimal assignment (Kuhn's
  Hungarian method, :func:`scipy.optimize.linear_sum_assignment`) that
  maximises the number of matching fields, ties keeping list order; fields
  are compared only inside paired items, so an item's fields stay together.
  A paired item's fields take the gold item's position; fields of unpaired
  items are missing (gold) or extra (output, numbered after the gold items);
- leaves by their normalised value (:func:`leaf_key`, the task's
  ``normalize``), which keeps the JSON type: a string never equals ``true``,
  ``null`` or a number, unless numbers are compared by value.

Each gold field is ``ok`` (matched), ``bad`` (a different value at its
path), or ``miss``; each output field is ``ok``, ``bad`` or ``extra``.
Precision is matched / output fields, recall matched / gold fields.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np
from pydantic import ValidationError
from scipy.optimize import linear_sum_assignment

from harness.scoring.normalize import NUMBER, norm_text
from harness.taskspec import Normalize

Path = tuple[str | int, ...]
Status = Literal["ok", "bad", "miss", "extra"]

__all__ = ["Comparison", "FieldDiff", "Path", "compare", "leaf_key", "leaves", "pointer",
           "recorded_normalize"]


def pointer(path: Path) -> str:
    """A path as a JSON Pointer (RFC 6901: ``~`` as ``~0``, ``/`` as ``~1``).

    >>> pointer(("ref.id",)), pointer(("ref", "id")), pointer(("a/b", 0)), pointer(())
    ('/ref.id', '/ref/id', '/a~1b/0', '')
    """
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, dict | list) or not value


def _number(text: str) -> str:
    d = Decimal(text)
    return "0" if d == 0 else str(d.normalize())


def leaf_key(value: Any, how: Normalize) -> str:
    """A leaf's comparable form: JSON text of the normalised value, numbers by value.

    Strings stay quoted, so ``"true"`` is not ``true``; with ``numbers``,
    ``"2.50"``, ``2.5`` and ``2.500`` are one number (compared exactly, as
    decimals: two different large integers never meet).

    >>> how = Normalize()
    >>> leaf_key("2.50", how), leaf_key(2.5, how), leaf_key(True, how), leaf_key(" A ", how)
    ('2.5', '2.5', 'true', '"a"')
    >>> leaf_key(2**60, how) == leaf_key(2**60 + 1, how)
    False
    """
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return _number(repr(value)) if how.numbers else json.dumps(value)
    text = str(value)
    if how.numbers and NUMBER.match(text.strip()):
        return _number(text.strip())
    return json.dumps(norm_text(text, how), ensure_ascii=False)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every field of a JSON value: ``(path, leaf)``, in document order.

    >>> list(leaves({"a": [{"b": 1}, []], "c": {}}))
    [(('a', 0, 'b'), 1), (('a', 1), []), (('c',), {})]
    """
    if _is_leaf(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    else:
        for i, item in enumerate(value):
            yield from leaves(item, (*path, i))


@dataclass(frozen=True)
class FieldDiff:
    """One field of the comparison: its path, both values (JSON text) and its status."""

    path: Path
    gold: str | None
    pred: str | None
    status: Status


@dataclass(frozen=True)
class Comparison:
    """A predicted answer against the gold one, field by field (see the module doc)."""

    diffs: tuple[FieldDiff, ...]

    def count(self, *statuses: Status) -> int:
        """How many fields have one of ``statuses``."""
        return sum(1 for d in self.diffs if d.status in statuses)

    @property
    def matched(self) -> int:
        """Fields right: the same normalised value at the same (aligned) path."""
        return self.count("ok")

    @property
    def n_gold(self) -> int:
        """Fields of the gold answer (at least 1: an empty object is a field)."""
        return self.count("ok", "bad", "miss")

    @property
    def n_pred(self) -> int:
        """Fields of the predicted answer (at least 1)."""
        return self.count("ok", "bad", "extra")

    @property
    def precision(self) -> float:
        """Matched / predicted fields."""
        return self.matched / self.n_pred if self.n_pred else 0.0

    @property
    def recall(self) -> float:
        """Matched / gold fields."""
        return self.matched / self.n_gold if self.n_gold else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (0 when both are 0)."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def exact(self) -> bool:
        """Every field matched: the two normalised trees are equal (lists order-free)."""
        return all(d.status == "ok" for d in self.diffs)


def _only(value: Any, path: Path, status: Status) -> Iterator[FieldDiff]:
    for p, leaf in leaves(value, path):
        yield (FieldDiff(p, _show(leaf), None, status) if status == "miss"
               else FieldDiff(p, None, _show(leaf), status))


def _diff(gold: Any, pred: Any, path: Path, how: Normalize) -> list[FieldDiff]:
    if _is_leaf(gold) and _is_leaf(pred):
        same = leaf_key(gold, how) == leaf_key(pred, how)
        return [FieldDiff(path, _show(gold), _show(pred), "ok" if same else "bad")]
    if isinstance(gold, dict) and isinstance(pred, dict) and gold and pred:
        out: list[FieldDiff] = []
        for key, value in gold.items():
            out += (_diff(value, pred[key], (*path, key), how) if key in pred
                    else list(_only(value, (*path, key), "miss")))
        for key in (k for k in pred if k not in gold):
            out += _only(pred[key], (*path, key), "extra")
        return out
    if isinstance(gold, list) and isinstance(pred, list) and gold and pred:
        return _align(gold, pred, path, how)
    return [*_only(gold, path, "miss"), *_only(pred, path, "extra")]


def _align(gold: Sequence[Any], pred: Sequence[Any], path: Path, how: Normalize
           ) -> list[FieldDiff]:
    """Pair whole list items (most matched fields, ties in list order), then compare."""
    pairs = [[_diff(g, p, (*path, i), how) for p in pred] for i, g in enumerate(gold)]
    scale = min(len(gold), len(pred)) + 1  # a matched field outweighs every tie-break
    weight = np.array([[scale * sum(d.status == "ok" for d in pairs[i][j]) + (i == j)
                        for j in range(len(pred))] for i in range(len(gold))])
    rows, cols = linear_sum_assignment(weight, maximize=True)
    paired = dict(zip(rows.tolist(), cols.tolist(), strict=True))
    out: list[FieldDiff] = []
    for i, g in enumerate(gold):
        out += pairs[i][paired[i]] if i in paired else _only(g, (*path, i), "miss")
    spare = [j for j in range(len(pred)) if j not in set(paired.values())]
    for k, j in enumerate(spare):
        out += _only(pred[j], (*path, len(gold) + k), "extra")
    return out


def compare(gold: Any, pred: Any, how: Normalize) -> Comparison:
    """Compare a predicted JSON answer with the gold one, field by field.

    Args:
        gold: The gold answer as a JSON value (parsed).
        pred: The predicted answer as a JSON value (parsed).
        how: The task's normalisation of leaf values.

    Returns:
        Every field's status; precision, recall, F1 and exact match follow.

    >>> gold = {"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}
    >>> pred = {"queue": "BILL", "items": [{"sku": "A", "qty": 5}, {"sku": "B", "qty": 1}]}
    >>> c = compare(gold, pred, Normalize())
    >>> (c.matched, c.n_gold, c.n_pred, c.exact)
    (3, 5, 5, False)
    """
    return Comparison(tuple(_diff(gold, pred, (), how)))


def recorded_normalize(task_cfg: Mapping[str, Any]) -> Normalize:
    """The normalisation a run recorded for a task (its config entry); default if none.

    Readers of a stored run (the report's diff, results.json's field
    accuracy) compare fields as the scorers did.
    """
    raw = task_cfg.get("normalize")
    try:
        return Normalize.model_validate(raw) if isinstance(raw, Mapping) else Normalize()
    except ValidationError:
        return Normalize()
