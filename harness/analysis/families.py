"""Per-scorer aggregates with intervals, and the family facts a report shows.

Every scorer of a (task, variant) gets its mean with a seeded bootstrap
interval over the examples it scored; unscored examples (NaN: not
applicable, or an invalid judge answer) are counted apart, never averaged
in as zeros. Generation families add their failure counts (unparseable
outputs) and the facts a scorer reports about itself (the style
classifier's held-out accuracy, the fluency proxy, judge validity).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.analysis.paired import bootstrap_mean_ci


def scorer_kind(name: str) -> str:
    """``binary`` or ``continuous`` for a registered scorer (binary if unknown)."""
    import harness.scoring  # noqa: F401  (registers the built-in scorers)
    from harness.scoring.base import SCORERS

    return SCORERS.get(name).kind if name in SCORERS.names() else "binary"


def _higher_is_better(name: str) -> bool:
    from harness.scoring.base import SCORERS

    return SCORERS.get(name).higher_is_better if name in SCORERS.names() else True


def scorer_summaries(score_maps: Sequence[Mapping[str, Any]], rng: np.random.Generator,
                     resamples: int, conf: float) -> dict[str, dict[str, Any]]:
    """Mean and bootstrap interval of every scorer over one cell's examples."""
    names: list[str] = []
    for m in score_maps:
        names += [n for n in m if n not in names]
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(names):
        values = [m.get(name, {}).get("value") for m in score_maps if name in m]
        arr = [math.nan if v is None else float(v) for v in values]
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


def family_summary(family: str, score_maps: Sequence[Mapping[str, Any]],
                   outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``metrics`` of a generation-family variant plus its failure counts and facts."""
    means: dict[str, float] = {}
    for m in score_maps:
        for name in m:
            means.setdefault(name, 0.0)
    for name in means:
        vals = [float(v) for m in score_maps
                if (v := m.get(name, {}).get("value")) is not None]
        means[name] = float(np.mean(vals)) if vals else math.nan
    n = len(outputs)
    unparseable = sum(1 for o in outputs if o.get("prediction") is None)
    out: dict[str, Any] = {"metrics": means, "unparseable": unparseable,
                           "unparseable_rate": unparseable / n if n else math.nan}
    if family == "format":
        parses = [str((o.get("detail") or {}).get("parse", "")) for o in outputs]
        out["parse"] = {k: parses.count(k) for k in ("strict", "extracted", "failed")}
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
