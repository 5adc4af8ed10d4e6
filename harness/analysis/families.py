"""Per-scorer aggregates with intervals, and the family facts a report shows.

Every scorer of a (task, variant) gets its mean with a seeded bootstrap
interval over the examples it scored; unscored examples (NaN: not
applicable, or an invalid judge answer) are counted apart, never averaged
in as zeros. Given the example id of each record, several samples of one
example are averaged first and resampling draws examples, as for the
primary metric (:mod:`harness.analysis.metric`). Generation families add
their failure counts (unparseable outputs) and the facts a scorer reports
about itself (the style classifier's held-out accuracy, the fluency proxy,
judge validity).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.analysis.metric import mean_over_examples
from harness.analysis.paired import bootstrap_mean_ci
from harness.analysis.stats import clustered


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
    """Mean and bootstrap interval of every scorer over one cell's examples.

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
        ci = bootstrap_mean_ci(arr, rng, resamples=resamples, confidence=conf)
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


def _flat(obj: Any, prefix: str = "") -> dict[str, str]:
    """Nested keys joined by dots; lists as sorted multisets; strings trimmed and case-folded."""
    if isinstance(obj, Mapping) and obj:
        out: dict[str, str] = {}
        for key, value in obj.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(obj, list):
        value = json.dumps(sorted(json.dumps(_norm(v), sort_keys=True) for v in obj))
    else:
        value = json.dumps(_norm(obj), sort_keys=True)
    return {prefix or "$": value}


def _norm(value: Any) -> Any:
    return " ".join(value.split()).casefold() if isinstance(value, str) else value


def _as_object(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def field_accuracy(golds: Sequence[str], outputs: Sequence[Mapping[str, Any]],
                   rng: np.random.Generator, resamples: int, conf: float,
                   limit: int = 12, ids: Sequence[str] | None = None
                   ) -> dict[str, dict[str, Any]]:
    """Per gold field: the share of examples whose answer has it right, with an interval.

    Fields are flattened (``a.b``), lists compared as multisets, strings
    trimmed and case-folded; an unparseable answer gets every field wrong.
    The ``limit`` most frequent fields are kept (the report's error bars).
    ``ids`` (each output's example id) averages samples per example first.
    """
    hits: dict[str, list[float]] = {}
    hit_ids: dict[str, list[str]] = {}
    for k, (gold_text, out) in enumerate(zip(golds, outputs, strict=True)):
        gold = _as_object(gold_text)
        if gold is None:
            continue
        pred = _flat(_as_object(out.get("prediction")) or {})
        for key, value in _flat(gold).items():
            hits.setdefault(key, []).append(1.0 if pred.get(key) == value else 0.0)
            hit_ids.setdefault(key, []).append(str(k) if ids is None else ids[k])
    keep = sorted(hits, key=lambda k: (-len(set(hit_ids[k])), k))[:limit]
    result = {}
    for key in sorted(keep):
        values = _by_example(None if ids is None else hit_ids[key], len(hits[key]), hits[key])
        ci = bootstrap_mean_ci(values, rng, resamples=resamples, confidence=conf)
        result[key] = {"accuracy": ci.estimate, "ci_low": ci.low, "ci_high": ci.high,
                       "n": ci.n}
    return result


def family_summary(family: str, score_maps: Sequence[Mapping[str, Any]],
                   outputs: Sequence[Mapping[str, Any]], golds: Sequence[str] = (),
                   rng: np.random.Generator | None = None, resamples: int = 2000,
                   conf: float = 0.95, ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The ``metrics`` of a generation-family variant plus its failure counts and facts.

    For ``format`` with ``golds`` and ``rng``, also ``fields``: the accuracy of
    each gold field (:func:`field_accuracy`). Each metric is the mean over
    examples of the mean over their samples (``ids``: each record's example
    id; without them every record is its own example); NaN when none scored.
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
            out["fields"] = field_accuracy(golds, outputs, rng, resamples, conf, ids=ids)
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
