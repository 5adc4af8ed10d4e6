"""Reasoning answers: the final answer line of a reasoning variant, and self-consistency votes.

- Reasoning (zero-shot chain of thought, Kojima et al., 2022; Wei et al.,
  2022): the model reasons first and gives its answer on a final line
  ``Answer: ...``; only that answer is scored (:func:`final_answer`).
- Self-consistency (Wang et al., 2023, "Self-Consistency Improves Chain of
  Thought Reasoning in Language Models"): sample several answers and keep
  the most frequent. :func:`majority` breaks ties by the earliest draw, and
  invalid answers do not vote.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence

_ANSWER = re.compile(r"^\s*(?:\*\*)?(final\s+)?answer(?:\*\*)?\s*:(?:\*\*)?\s*(.*?)\s*$",
                     re.IGNORECASE)


def final_answer(text: str) -> str | None:
    r"""The answer on the line that ends the reasoning (``None``: there is no such line).

    That line is the first one starting with ``Final answer:``, else the first
    starting with ``Answer:``; the text after the colon is the answer. What a
    model writes after it is not read: a base model runs on into a made-up
    next example with answers of its own.

    >>> final_answer("Billing words suggest ORCA.\nAnswer: TIDE\nText: ...\nAnswer: KELP")
    'TIDE'
    >>> final_answer("Answer: ORCA\nwait, no.\nFinal answer: TIDE")
    'TIDE'
    >>> final_answer("It is ORCA.") is None
    True
    """
    plain = None
    for line in text.splitlines():
        m = _ANSWER.match(line)
        if m and m.group(1):
            return m.group(2)
        if m and plain is None:
            plain = m.group(2)
    return plain


def vote_key(prediction: str) -> str:
    """What counts as the same answer: equal JSON values, else equal stripped, case-folded text.

    >>> vote_key('{"b": 1, "a": 2}') == vote_key('{"a":2,"b":1}')
    True
    >>> vote_key(" Tide ") == vote_key("TIDE")
    True
    """
    text = prediction.strip()
    if text.startswith(("{", "[")):
        try:
            return json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False)
        except ValueError:
            pass
    return " ".join(text.split()).casefold()


def majority(predictions: Sequence[str | None]) -> tuple[int | None, dict[str, int]]:
    """The index of the draw that gives the majority answer, and the vote counts.

    Invalid draws (``None``) do not vote; between tied answers the one drawn
    first wins. Returns ``(None, {})`` when every draw is invalid.

    >>> majority(["B", "A", None, "A", "B"])
    (0, {'b': 2, 'a': 2})
    >>> majority([None, "A", "B", "B"])
    (2, {'a': 1, 'b': 2})
    """
    keys = [vote_key(p) if p is not None else None for p in predictions]
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return None, {}
    top = max(counts.values())
    winner = next(i for i, k in enumerate(keys) if k is not None and counts[k] == top)
    return winner, dict(counts)
