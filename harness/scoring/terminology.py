"""Terminology: exact acronym expansion, required-term recall, forbidden-term rate.

Matching is on the task's normalised text (case and whitespace by default,
punctuation optionally) and on word boundaries of spaced scripts
(:func:`harness.tokens.phrase_pattern`): ``cat`` is not found in ``cats``,
but a Chinese or Japanese term, which has no spaces around it, is found
inside its sentence.

- ``expansion_accuracy`` (mode ``expansion``): the output's first line,
  normalised, equals the gold long form.
- ``required_term_recall``: of the glossary's preferred forms that occur in
  the reference, the share that also occur in the output (unscored, and
  said so, when the reference needs none).
- ``forbidden_term_rate``: 1.0 when the output uses any forbidden variant
  (lower is better); occurrences inside a preferred form do not count.
"""

from __future__ import annotations

import re

from harness.scoring.base import Output, Score, task_scorer
from harness.scoring.normalize import norm_text
from harness.tasks import Example, Task, TerminologyTask
from harness.taskspec import GlossaryEntry
from harness.tokens import phrase_pattern


def _spec(task: Task) -> TerminologyTask:
    assert isinstance(task.spec, TerminologyTask)
    return task.spec


def glossary(task: Task) -> tuple[GlossaryEntry, ...]:
    """The task's glossary entries (inline or from its glossary file)."""
    return tuple(task.resources.get("glossary", ()))


def _contains(haystack: str, needle: str) -> bool:
    if not needle:
        return False
    return re.search(phrase_pattern(needle), haystack) is not None


def _mask(text: str, phrases: list[str]) -> str:
    for p in sorted(phrases, key=len, reverse=True):
        if p:
            text = re.sub(phrase_pattern(p), " \x00 ", text)
    return text


def _is_expansion(task: Task) -> bool:
    return _spec(task).mode == "expansion"


def _has_glossary(task: Task) -> bool:
    return bool(glossary(task))


def _needed(example: Example, task: Task) -> list[str]:
    """The glossary's preferred forms that the example's reference uses."""
    how = _spec(task).normalize
    ref = norm_text(example.target, how)
    return [e.preferred for e in glossary(task) if _contains(ref, norm_text(e.preferred, how))]


def _no_required_term(example: Example, task: Task) -> str | None:
    """Why required-term recall is undefined on ``example`` (None when it is defined)."""
    return None if _needed(example, task) else "the reference uses no glossary term"


@task_scorer("expansion_accuracy", family="terminology", applies=_is_expansion,
             requires="mode: expansion", args=("mode", "normalize"))
def expansion_accuracy(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the normalised output is exactly the gold long form."""
    how = _spec(task).normalize
    if output.prediction is None:
        return Score(0.0, f"empty output; gold {example.target!r}", {"parsed": False})
    pred, gold = norm_text(output.prediction, how), norm_text(example.target, how)
    if pred == gold:
        return Score(1.0, f"exact: {example.target!r}")
    return Score(0.0, f"expanded as {output.prediction[:60]!r}; gold {example.target!r}")


@task_scorer("required_term_recall", family="terminology", kind="continuous",
             applies=_has_glossary, requires="a non-empty 'glossary'",
             undefined=_no_required_term, args=("glossary", "normalize"))
def required_term_recall(example: Example, output: Output, task: Task) -> Score:
    """Share of the preferred forms the reference uses that the output also uses."""
    how = _spec(task).normalize
    needed = _needed(example, task)
    if not needed:
        return Score.unscored(str(_no_required_term(example, task)))
    out = norm_text(output.prediction or "", how)
    found = [t for t in needed if _contains(out, norm_text(t, how))]
    missing = [t for t in needed if t not in found]
    value = len(found) / len(needed)
    why = f"{len(found)}/{len(needed)} required terms used"
    return Score(value, why + (f"; missing {', '.join(missing[:3])}" if missing else ""),
                 {"required": needed, "missing": missing})


@task_scorer("forbidden_term_rate", family="terminology", higher_is_better=False,
             applies=_has_glossary, requires="a non-empty 'glossary'",
             args=("glossary", "normalize"))
def forbidden_term_rate(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the output uses a forbidden variant of a glossary term (lower is better)."""
    spec = _spec(task)
    how = spec.normalize
    out = norm_text(output.prediction or "", how)
    preferred = [norm_text(e.preferred, how) for e in glossary(task)]
    masked = _mask(out, preferred)
    used = [bad for e in glossary(task) for bad in e.forbidden
            if _contains(masked, norm_text(bad, how))]
    if used:
        return Score(1.0, f"uses forbidden {', '.join(repr(u) for u in used[:3])}",
                     {"forbidden": used})
    return Score(0.0, "no forbidden variant", {"forbidden": []})
