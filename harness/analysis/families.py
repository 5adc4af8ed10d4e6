"""Per-scorer aggregates with intervals, and the family facts a report shows.

Every scorer of a (task, variant) gets its mean with an interval over the
examples it scored (Wilson's for 0/1 scores, else a seeded bootstrap);
unscored examples (NaN: not applicable, or an invalid judge answer) are
counted apart, never averaged in as zeros. Given the example id of each
record, several samples of one example are averaged first and resampling
draws examples, as for the primary metric (:mod:`harness.analysis.metric`).
Generation families add their failure counts (unparseable outputs) and the
facts a scorer reports about itself (the style classifier's held-out
accuracy, the fluency proxy, judge validity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.analysis.metric import mean_over_examples
from harness.analysis.paired import mean_ci
from harness.analysis.stats import clustered
from harness.answers import strict_object
from harness.scoring.fields import compare, leaves, pointer
from harness.taskspec import Normalize


def _higher_is_better(name: str) -> bool:
    from harness.scoring.base import SCORERS

    return SCORERS.get(name).higher_is_better if name in SCORERS.names() else True


def _by_example(ids: Sequence[str] | None, n: int, values: Sequence[float]) -> list[float]:
    """Per-example means of ``values`` (one per record) when ``ids`` are given."""
    if ids is None:
        return list(values)
    assert len(ids) == n == len(values)
    return [float(x) for x in clustered(ids, values)[1]]


def scorer_summaries(score_maps: Sequence[Mapping[str, Any]], rng: np.random.Generator,
                     resamples: int, conf: float, ids: Sequence[str] | None = None
                     ) -> dict[str, dict[str, Any]]:
    """Mean and interval of every scorer over one cell's examples (see ``mean_ci``).

    ``ids`` (the example id of each score map) averages samples per example first.
    """
    names: list[str] = []
    for m in score_maps:
        names += [n for n in m if n not in names]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        has = [k for k, m in enumerate(score_maps) if name in m]
        values = [score_maps[k][name].get("value") for k in has]
        arr = _by_example(None if ids is None else [ids[k] for k in has], len(has),
                          [math.nan if v is None else float(v) for v in values])
        ci = mean_ci(arr, rng, resamples=resamples, confidence=conf)
        out[name] = {"mean": ci.estimate, "ci_low": ci.low, "ci_high": ci.high, "n": ci.n,
                     "unscored": sum(1 for v in values if v is None),
                     "higher_is_better": _higher_is_better(name)}
    return out


def _first_detail(score_maps: Sequence[Mapping[str, Any]], scorer: str, key: str) -> Any:
    for m in score_maps:
        value = (m.get(scorer, {}).get("detail") or {}).get(key)
        if value is not None:
            return value
    return None


def field_accuracy(golds: Sequence[str], outputs: Sequence[Mapping[str, Any]],
                   rng: np.random.Generator, resamples: int, conf: float,
                   limit: int = 12, how: Normalize | None = None,
                   ids: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """Per gold field: the share of examples whose answer has it right, with an interval.

    The fields and what "right" means are the scorers'
    (:func:`harness.scoring.fields.compare` under the task's normalisation
    ``how``): each gold field, keyed by its JSON Pointer, is right when it
    matches in the aligned answer. An unparseable answer gets every field
    wrong; a gold that is not one JSON object is skipped. The ``limit`` most
    frequent fields are kept (the report's error bars). ``ids`` (each
    output's example id) averages samples per example first.
    """
    norm = how or Normalize()
    hits: dict[str, list[float]] = {}
    hit_ids: dict[str, list[str]] = {}
    for k, (gold_text, out) in enumerate(zip(golds, outputs, strict=True)):
        gold = strict_object(gold_text)
        if gold is None:
            continue
        pred = strict_object(out.get("prediction"))
        right = set() if pred is None else {
            pointer(d.path) for d in compare(gold, pred, norm).diffs if d.status == "ok"}
        for path, _ in leaves(gold):
            key = pointer(path)
            hits.setdefault(key, []).append(1.0 if key in right else 0.0)
            hit_ids.setdefault(key, []).append(str(k) if ids is None else ids[k])
    keep = sorted(hits, key=lambda k: (-len(set(hit_ids[k])), k))[:limit]
    result = {}
    for key in sorted(keep):
        values = _by_example(None if ids is None else hit_ids[key], len(hits[key]), hits[key])
        ci = mean_ci(values, rng, resamples=resamples, confidence=conf)
        result[key] = {"accuracy": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                       "n": ci.n}
    return result


def family_summary(family: str, score_maps: Sequence[Mapping[str, Any]],
                   outputs: Sequence[Mapping[str, Any]], golds: Sequence[str] = (),
                   rng: np.random.Generator | None = None, resamples: int = 2000,
                   conf: float = 0.95, how: Normalize | None = None,
                   ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``metrics`` of a generation-family variant plus its failure counts and facts.

    For ``format`` with ``golds`` and ``rng``, also ``fields``: the accuracy of
    each gold field (:func:`field_accuracy`, normalised as ``how``). Each
    metric is the mean over examples of the mean over their samples (``ids``:
    each record's example id; without them every record is its own example);
    NaN when none scored.
    """
    keys = list(ids) if ids is not None else [str(k) for k in range(len(score_maps))]
    means: dict[str, float] = {}
    for m in score_maps:
        for name in m:
            means.setdefault(name, 0.0)
    for name in means:
        vals = [math.nan if (v := m.get(name, {}).get("value")) is None else float(v)
                for m in score_maps]
        mean = mean_over_examples(keys, vals)
        means[name] = math.nan if mean is None else mean
    n = len(outputs)
    unparseable = sum(1 for o in outputs if o.get("prediction") is None)
    out: dict[str, Any] = {"metrics": means, "unparseable": unparseable,
                           "unparseable_rate": unparseable / n if n else math.nan}
    if family == "format":
        parses = [str((o.get("detail") or {}).get("parse", "")) for o in outputs]
        out["parse"] = {k: parses.count(k) for k in ("strict", "extracted", "failed")}
        if golds and rng is not None:
            out["fields"] = field_accuracy(golds, outputs, rng, resamples, conf, how=how,
                                           ids=ids)
    elif family == "tone":
        out["style_classifier"] = _first_detail(score_maps, "style_accuracy", "classifier")
        out["fluency_proxy"] = _first_detail(score_maps, "fluency", "proxy")
        verdicts = [(o.get("detail") or {}).get("judge") for o in outputs]
        judged = [v for v in verdicts if isinstance(v, dict)]
        if judged:
            ratings = [v["rating"] for v in judged if v.get("rating") is not None]
            out["judge"] = {"asked": len(judged), "invalid": len(judged) - len(ratings),
                            "mean_rating": float(np.mean(ratings)) if ratings else math.nan,
                            "prompt_example": judged[0].get("prompt")}
    return out
