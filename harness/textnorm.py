"""Text normalisation shared by loading and scoring, so both compare the same way.

Two rules live here, each applied identically to both sides of a comparison
and to the validation that guards it:

- :func:`norm_text`: a task's ``normalize`` settings (case, whitespace,
  punctuation), used by the scorers and by the glossary checks. Text is
  always put in Unicode NFC first (a decomposed ``é`` is the same text as a
  precomposed one), and punctuation means every Unicode punctuation
  character (category P: ``。，「」“”¿``) as well as ASCII's
  ``string.punctuation``.
- :func:`label_key` / :func:`match_label`: how a generated answer is matched
  to a classification label. An exact match (the answer's first line,
  surrounding whitespace dropped) wins; only then the answer and every label
  are normalised the same way (surrounding whitespace and ``.,;:!"'`*``
  stripped, case-folded) and compared. A task whose labels collide under that
  normalisation (``Pro``/``PRO``) is refused at load
  (:func:`label_collisions`), and an ambiguous normalised answer matches
  nothing rather than an arbitrary label.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

from harness.taskspec import Normalize

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
LABEL_PUNCT = ".,;:!\"'`*"
LABEL_STRIP = LABEL_PUNCT + string.whitespace


def _drop_punctuation(text: str, repl: str) -> str:
    """Replace ASCII punctuation and every Unicode punctuation character with ``repl``."""
    out = _PUNCT.sub(repl, text)
    if out.isascii():
        return out
    return "".join(repl if unicodedata.category(c).startswith("P") else c for c in out)


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


def label_core(text: str) -> str:
    """A label or answer without surrounding whitespace and ``.,;:!"'`*``.

    >>> label_core(" U.S. "), label_core("**Pro**")
    ('U.S', 'Pro')
    """
    return text.strip(LABEL_STRIP)


def label_key(text: str) -> str:
    """A label or an answer line as compared after an exact match failed.

    Surrounding whitespace and ``.,;:!"'`*`` are stripped, then case-folded;
    inside the text nothing changes.

    >>> label_key(" U.S. "), label_key("**Pro**"), label_key("big fish.")
    ('u.s', 'pro', 'big fish')
    """
    return label_core(text).casefold()


def answer_line(text: str) -> str:
    """The first non-empty line of a generated answer, surrounding whitespace dropped."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def match_label(text: str, labels: Sequence[str]) -> str | None:
    r"""Match a generated answer to a label: exactly first, then normalised.

    Returns the label exactly as the task file wrote it, or ``None`` (an
    invalid answer) when nothing matches or the normalised answer fits more
    than one label.

    >>> match_label("U.S.", ["U.S.", "E.U."])
    'U.S.'
    >>> match_label("Pro", ["Pro", "PRO", "Basic"]), match_label("pro", ["Pro", "PRO"])
    ('Pro', None)
    >>> match_label(" tide.\nmore", ["ORCA", "TIDE"]), match_label("I think TIDE", ["TIDE"])
    ('TIDE', None)
    """
    line = answer_line(text)
    if line in labels:
        return line
    key = label_key(line)
    if not key:
        return None
    found = [lab for lab in labels if label_key(lab) == key]
    return found[0] if len(found) == 1 else None


def label_collisions(labels: Sequence[str]) -> list[tuple[int, int]]:
    """Pairs ``(first, later)`` of label indices that :func:`label_key` cannot tell apart.

    A label whose key is empty (only punctuation or whitespace) collides with
    an empty answer and is reported as ``(i, i)``.

    >>> label_collisions(["Pro", "PRO", "Basic"]), label_collisions(["U.S.", "E.U."])
    ([(0, 1)], [])
    """
    seen: dict[str, int] = {}
    out: list[tuple[int, int]] = []
    for i, lab in enumerate(labels):
        key = label_key(lab)
        if not key:
            out.append((i, i))
        elif key in seen:
            out.append((seen[key], i))
        else:
            seen[key] = i
    return out
