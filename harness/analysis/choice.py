"""The best variant on dev: one rule for every place that picks one.

The baseline (:func:`harness.analysis.results.choose_baseline`), the verdict's
lora candidate and rag check (:mod:`harness.analysis.decision`), the
knowledge-vs-behaviour diagnosis, compare-base, the prompt search's ranking
of its candidates in each round (:mod:`harness.search_run`, ties on mean
tokens per example), its leaderboard and the runner-up its honesty notes name
(:mod:`harness.analysis.search`) all pick with it.

Rule: the higher dev score wins; a variant without a dev score (missing or
NaN) ranks below every scored one; ties go to the fewer mean prompt tokens on
dev (missing: 0), then to the name in string order. Chosen on dev, never on
test, so the test comparison that follows is not biased by the choice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from harness.analysis.model import VariantResult

__all__ = ["best_on_dev", "best_variant", "dev_rank"]


def dev_rank(name: str, dev_score: float | None, prompt_tokens: float | None
             ) -> tuple[float, float, str]:
    """The sort key of the rule (smallest first): -dev score, prompt tokens, name."""
    score = -math.inf if dev_score is None or math.isnan(dev_score) else float(dev_score)
    return -score, float(prompt_tokens or 0.0), name


def best_on_dev(dev_scores: Mapping[str, float | None], prompt_tokens: Mapping[str, float],
                candidates: Sequence[str]) -> str | None:
    """The best of ``candidates`` on dev by the module's rule (None when there are none)."""
    if not candidates:
        return None
    return min(candidates, key=lambda c: dev_rank(c, dev_scores.get(c), prompt_tokens.get(c)))


def best_variant(variants: Sequence[VariantResult], kind: str | None = None) -> str | None:
    """The best of a task's variants (of ``kind``, if given) on dev.

    Reads each variant's ``dev_score`` and ``dev_prompt_tokens_mean``.
    """
    pool = [v for v in variants if kind is None or v.kind == kind]
    return best_on_dev({v.name: v.dev_score for v in pool},
                       {v.name: v.dev_prompt_tokens_mean or 0.0 for v in pool},
                       [v.name for v in pool])
