"""Knowledge gap or behaviour gap: what prompt vs rag vs lora says about a task.

The rule tunegate measures rather than assumes: retrieval fixes missing
*knowledge*, fine-tuning fixes *behaviour* (labels, formats, tone). Per
task, with the prompt baseline (best prompt on dev), the best ``rag`` and
the best ``lora`` variant (each chosen on dev), all paired on test:

- ``knowledge gap``: rag beats the prompt baseline significantly (the 95%
  CI of its gain is above 0) and lora does not beat rag significantly
  (or the run has no lora variant);
- ``behaviour gap``: lora beats the prompt baseline and beats rag, both
  significantly;
- ``no clear gap``: anything else (neither helps, or the evidence is mixed),
  with the reason.

Without a rag variant there is nothing to diagnose (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.metric import mean_over_examples
from harness.analysis.model import ComparisonResult, Diagnosis, Evidence
from harness.fmt import number, signed

KNOWLEDGE_GAP = "knowledge gap"
BEHAVIOUR_GAP = "behaviour gap"
NO_CLEAR_GAP = "no clear gap"


def _wins(c: ComparisonResult | None) -> bool:
    """The candidate's gain has a 95% CI lower bound above 0."""
    if c is None:
        return False
    low = c.ci_low
    return low is not None and not math.isnan(float(low)) and float(low) > 0


def _fmt(c: ComparisonResult) -> str:
    return (f"{c.candidate} vs {c.baseline}: {signed(c.delta)} "
            f"[{signed(c.ci_low)}, {signed(c.ci_high)}], "
            f"p={number(c.p_value, '.3g')}, n={c.n}")


def _evidence(c: ComparisonResult | None) -> Evidence | None:
    if c is None:
        return None
    return Evidence(baseline=c.baseline, candidate=c.candidate, delta=c.delta,
                    ci_low=c.ci_low, ci_high=c.ci_high, p_value=c.p_value, n=c.n)


def diagnose(rag_vs_prompt: ComparisonResult | None,
             lora_vs_prompt: ComparisonResult | None,
             lora_vs_rag: ComparisonResult | None) -> Diagnosis | None:
    """Label a task from its paired comparisons (see the module docstring).

    Args:
        rag_vs_prompt: Best rag variant against the prompt baseline.
        lora_vs_prompt: Best lora variant against the prompt baseline.
        lora_vs_rag: Best lora variant against the best rag variant.

    Returns:
        The :class:`~harness.analysis.model.Diagnosis`, or None without a rag comparison.
    """
    if rag_vs_prompt is None:
        return None
    comps = [c for c in (rag_vs_prompt, lora_vs_prompt, lora_vs_rag) if c is not None]
    facts = "; ".join(_fmt(c) for c in comps)
    evidence = {"rag_vs_prompt": _evidence(rag_vs_prompt),
                "lora_vs_prompt": _evidence(lora_vs_prompt),
                "lora_vs_rag": _evidence(lora_vs_rag)}
    rag_wins = _wins(rag_vs_prompt)
    lora_beats_rag = _wins(lora_vs_rag)
    if _wins(lora_vs_prompt) and lora_beats_rag:
        label = BEHAVIOUR_GAP
        reason = ("fine-tuning beats both the prompt and retrieval, so what is missing is "
                  "behaviour, not facts")
    elif rag_wins and not lora_beats_rag:
        label = KNOWLEDGE_GAP
        reason = ("retrieval beats the prompt significantly and "
                  + ("fine-tuning does not beat retrieval" if lora_vs_rag is not None
                     else "there is no fine-tuned variant to beat it")
                  + ", so what is missing is facts")
    else:
        label = NO_CLEAR_GAP
        if not rag_wins and not _wins(lora_vs_prompt):
            reason = "neither retrieval nor fine-tuning beats the prompt significantly"
        elif lora_vs_rag is None:
            reason = "fine-tuning beats the prompt but was not compared with retrieval"
        else:
            reason = "the comparisons disagree (one beats the prompt, not the other)"
    return Diagnosis(label=label, reason=f"{reason}: {facts}.", evidence=evidence)


def retrieval_summary(outputs: Sequence[Mapping[str, Any]],
                      ids: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Mean recall@k and MRR of a rag variant from its outputs' ``detail``.

    Each record's ``detail.retrieval`` holds the example's recall@k and
    reciprocal rank (see :class:`harness.rag.knowledge.Retrieval`). With
    ``ids`` (each output's example id) samples are averaged per example
    first (:func:`~harness.analysis.metric.mean_over_examples`).

    Returns:
        None when no output records a retrieval; else ``retriever``, ``k``,
        ``n_gold`` (examples with gold ids), ``recall_at_k`` and ``mrr`` (None
        without gold ids), ``n_queries`` (outputs that retrieved) and
        ``no_passage`` (of those, how many retrieved no passage at all).
    """
    keys = list(ids) if ids is not None else [str(k) for k in range(len(outputs))]
    details = [o.get("detail") or {} for o in outputs]
    got = [(key, d["retrieval"]) for key, d in zip(keys, details, strict=True)
           if isinstance(d.get("retrieval"), Mapping)]
    first = next((d for d in details if "retriever" in d), None)
    if first is None:
        return None
    queries = [d for d in details if "retriever" in d]
    out: dict[str, Any] = {"retriever": first.get("retriever"), "k": first.get("k"),
                           "n_gold": len({key for key, _ in got}), "recall_at_k": None,
                           "mrr": None, "n_queries": len(queries),
                           "no_passage": sum(1 for d in queries if not d.get("retrieved"))}
    if got:
        gold_ids = [key for key, _ in got]
        out["recall_at_k"] = mean_over_examples(gold_ids, [float(g["recall_at_k"])
                                                           for _, g in got])
        out["mrr"] = mean_over_examples(gold_ids, [float(g["reciprocal_rank"]) for _, g in got])
    return out
