"""What the prompt search tried, and how much of the fine-tune's gain prompting gets.

Pure over a run's dev and test scores. The leaderboard lists every prompt
tried on dev (the config's own prompt variants and the search's candidates)
with its dev score and interval and what it cost; the winner's *test* score
is reported next to it, never its dev score as if it were a result. Two
honesty notes go next to the verdict when they apply: a baseline chosen on
fewer than :data:`NOISY_DEV` dev examples, and leaders on dev within noise of
each other (their paired dev difference's interval holds 0).

The prompting share (best prompt minus floor over fine-tune minus floor, on
test, floor = the weakest of the config's prompt variants on dev) says how
much of the fine-tune's gain a better prompt already gets; its interval is
a paired percentile bootstrap over test examples (Efron and Tibshirani,
1993, ch. 13).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.analysis.choice import best_on_dev, dev_rank
from harness.analysis.paired import bootstrap_mean_ci, mean_ci

NOISY_DEV = 40

Scores = Mapping[str, float]
"""Example id -> score (samples already averaged)."""


def _interval(values: Sequence[float], rng: np.random.Generator, resamples: int,
              confidence: float) -> tuple[float | None, float | None]:
    """Wilson for 0/1 scores, bootstrap otherwise (:func:`~harness.analysis.paired.mean_ci`)."""
    if not values:
        return None, None
    ci = mean_ci(list(values), rng, resamples=resamples, confidence=confidence)
    return (None if math.isnan(ci.low) else ci.low, None if math.isnan(ci.high) else ci.high)


def leaderboard(config_variants: Sequence[Mapping[str, Any]], dev: Mapping[str, Scores],
                tokens: Mapping[str, int], record: Mapping[str, Any] | None,
                test_scores: Mapping[str, float | None], rng: np.random.Generator,
                resamples: int, confidence: float) -> dict[str, Any]:
    """One task's prompt-search leaderboard on dev.

    Args:
        config_variants: The run's stored variant entries (name, kind, search,
            base, settings).
        dev: Each prompt variant's dev scores by example.
        tokens: Each variant's dev tokens (prompt plus completion).
        record: The search's stored record (rounds, winner, spend), if it ran.
        test_scores: Test score of each variant that ran on test.
        rng: Seeded generator for the bootstrap.
        resamples: Bootstrap resamples.
        confidence: Interval level.

    Returns:
        ``{"rows": [...], "winner", "winner_test_score", "budget", "spent", "stopped",
        "rounds", "candidates"}``; rows best first by dev score.
    """
    reached: dict[str, int] = {}
    for i, rnd in enumerate((record or {}).get("rounds", [])):
        for row in rnd["ranking"]:
            reached[row["name"]] = i + 1
    rows = []
    for v in config_variants:
        name = v["name"]
        if v.get("kind") != "prompt" or name not in dev or not dev[name]:
            continue
        values = [x for x in dev[name].values() if not math.isnan(x)]
        low, high = _interval(values, rng, resamples, confidence)
        rows.append({"name": name, "search": bool(v.get("search")),
                     "base": v.get("base", name), "settings": v.get("settings", {}),
                     "dev_score": float(np.mean(values)) if values else None,
                     "dev_ci_low": low, "dev_ci_high": high, "n_dev": len(dev[name]),
                     "round": reached.get(name), "dev_tokens": int(tokens.get(name, 0)),
                     "test_score": test_scores.get(name)})
    rows.sort(key=lambda r: dev_rank(r["name"], r["dev_score"], None))  # analysis/choice.py
    winner = (record or {}).get("winner")
    return {"rows": rows, "winner": winner,
            "winner_test_score": test_scores.get(winner) if winner else None,
            "candidates": sum(1 for r in rows if r["search"]),
            "rounds": len((record or {}).get("rounds", [])),
            "budget": (record or {}).get("budget"), "stopped": (record or {}).get("stopped"),
            "spent": {"requests": (record or {}).get("requests", 0),
                      "tokens": (record or {}).get("tokens", 0),
                      "seconds": (record or {}).get("seconds", 0.0)}}


def honesty_notes(baseline: str, contenders: Sequence[str], dev: Mapping[str, Scores],
                  rng: np.random.Generator, resamples: int, confidence: float) -> list[str]:
    """Sentences that qualify the baseline choice (small dev set; leaders within noise).

    Args:
        baseline: The prompt chosen on dev.
        contenders: Prompt variants that competed on the whole dev split.
        dev: Dev scores by variant and example.
        rng: Seeded generator.
        resamples: Bootstrap resamples.
        confidence: Interval level.
    """
    notes = []
    n = len(dev.get(baseline, {}))
    if 0 < n < NOISY_DEV:
        notes.append(f"the baseline was chosen on {n} dev examples (fewer than about "
                     f"{NOISY_DEV}): the choice among prompts is noisy")
    others = [c for c in contenders if c != baseline and dev.get(c)]
    if not others:
        return notes

    def mean(name: str) -> float:
        vals = [x for x in dev[name].values() if not math.isnan(x)]
        return float(np.mean(vals)) if vals else -math.inf

    second = best_on_dev({c: mean(c) for c in others}, {}, others)  # analysis/choice.py
    assert second is not None  # others is not empty
    common = sorted(set(dev[baseline]) & set(dev[second]))
    d = [dev[baseline][i] - dev[second][i] for i in common
         if not (math.isnan(dev[baseline][i]) or math.isnan(dev[second][i]))]
    if len(d) < 2:
        return notes
    if not any(d):
        notes.append(f"the best two prompts on dev ({baseline} and {second}) score the same "
                     f"on every one of {len(d)} shared dev examples: the shorter prompt (then "
                     "the name) decided")
        return notes
    ci = bootstrap_mean_ci(d, rng, resamples=resamples, confidence=confidence)
    if not ci.low > 0:
        notes.append(f"the best two prompts on dev ({baseline} and {second}) are within noise "
                     f"of each other (paired dev difference {100 * ci.estimate:+.1f} points, "
                     f"CI {100 * ci.low:+.1f} to {100 * ci.high:+.1f}): which one is the "
                     "baseline is partly chance")
    return notes


def prompting_share(floor: Scores, best: Scores, tuned: Scores, rng: np.random.Generator,
                    resamples: int, confidence: float) -> dict[str, Any]:
    """How much of the fine-tune's gain over the floor the best prompt gets, on test.

    ``share = (best - floor) / (tuned - floor)`` on the test examples all three
    scored; 1 means prompting gets all of it, 0 none, above 1 the prompt beats
    the fine-tune. The interval is a paired percentile bootstrap over
    examples (resamples whose denominator is not positive are left out and
    counted).

    Returns:
        ``{"estimate", "ci_low", "ci_high", "n", "note"}``; estimate None when
        the fine-tune does not beat the floor (no gain to share).
    """
    ids = sorted(set(floor) & set(best) & set(tuned))
    f = np.asarray([floor[i] for i in ids], dtype=float)
    b = np.asarray([best[i] for i in ids], dtype=float)
    t = np.asarray([tuned[i] for i in ids], dtype=float)
    out: dict[str, Any] = {"estimate": None, "ci_low": None, "ci_high": None, "n": len(ids),
                           "note": ""}
    if len(ids) < 2 or not t.mean() - f.mean() > 0:
        out["note"] = "the fine-tune does not beat the floor on test: no gain to share"
        return out
    out["estimate"] = float((b.mean() - f.mean()) / (t.mean() - f.mean()))
    idx = rng.integers(0, len(ids), size=(resamples, len(ids)))
    num = b[idx].mean(axis=1) - f[idx].mean(axis=1)
    den = t[idx].mean(axis=1) - f[idx].mean(axis=1)
    ok = den > 0
    ratios = num[ok] / den[ok]
    if ratios.size >= resamples // 2:
        alpha = (1 - confidence) / 2
        out["ci_low"], out["ci_high"] = (float(np.quantile(ratios, alpha)),
                                         float(np.quantile(ratios, 1 - alpha)))
    if not ok.all():
        out["note"] = (f"{int((~ok).sum())} of {resamples} resamples had no fine-tune gain "
                       "over the floor and were left out")
    return out
