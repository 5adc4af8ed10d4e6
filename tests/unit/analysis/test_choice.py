"""One rule for "the best variant on dev" (harness/analysis/choice.py, issue 15).

Before, the verdict's rag check (decision._pick: ties by name) and the diagnosis
(diagnosis.best_variant: ties by first listed) could name different rag
variants, and compare-base treated a dev score of 0.0 as missing.
"""

import math

from harness.analysis.choice import best_on_dev, best_variant
from harness.analysis.model import VariantResult
from harness.analysis.results import choose_baseline
from harness.compare_base import decide_task
from tests.unit import resultskit as kit


def _v(name: str, dev: float | None, tokens: float | None = None, kind: str = "rag"
       ) -> VariantResult:
    entry: dict[str, object] = {"name": name, "kind": kind}
    if dev is not None:
        entry["dev_score"] = dev
    if tokens is not None:
        entry["dev_prompt_tokens_mean"] = tokens
    return kit.variant(entry)


def test_higher_dev_score_wins_whatever_the_order_tokens_or_name() -> None:
    # 0.7 > 0.6 although "b" is listed first, is shorter and sorts first.
    assert best_variant([_v("b", 0.6, 10), _v("z", 0.7, 900)], "rag") == "z"


def test_a_dev_tie_goes_to_fewer_prompt_tokens_then_to_the_name() -> None:
    # Tied 0.8: "z" has 300 tokens < 500, so z (the old _pick said "a", by name; the old
    # best_variant said "a", first listed).
    assert best_variant([_v("a", 0.8, 500), _v("z", 0.8, 300)], "rag") == "z"
    # Tied on score and tokens: the name, "a" < "b", whichever is listed first.
    assert best_variant([_v("b", 0.8, 300), _v("a", 0.8, 300)], "rag") == "a"


def test_missing_or_nan_dev_ranks_below_any_score_even_zero() -> None:
    assert best_variant([_v("a", None), _v("b", 0.0)], "rag") == "b"
    assert best_variant([_v("a", math.nan), _v("b", 0.0)], "rag") == "b"
    # None scored at all: tokens, then name.
    assert best_variant([_v("b", None), _v("a", None)], "rag") == "a"


def test_only_the_kind_asked_for_and_none_when_there_is_none() -> None:
    variants = [_v("p", 0.99, kind="prompt"), _v("r", 0.1)]
    assert best_variant(variants, "rag") == "r"
    assert best_variant(variants, "lora") is None
    assert best_on_dev({}, {}, []) is None


def test_the_baseline_uses_the_same_rule() -> None:
    # Tied 0.5: "b" has 2 tokens < 3, so b (by name alone it would be a).
    assert choose_baseline({"a": 0.5, "b": 0.5}, {"a": 3, "b": 2}, ["a", "b"])[0] == "b"
    assert best_on_dev({"a": 0.5, "b": 0.5}, {"a": 3, "b": 2}, ["a", "b"]) == "b"


def test_compare_base_picks_the_old_adapter_by_the_same_rule() -> None:
    # Two old-base adapters: fa has dev 0.0, fb has none. The old `dev_score or -inf`
    # took 0.0 for missing and then the larger name (fb); by the rule a score, even
    # 0.0, beats none: fa.
    variants = [{"name": "zero@new", "kind": "prompt", "dev_score": 0.5},
                {"name": "fa@old", "kind": "lora", "dev_score": 0.0},
                {"name": "fb@old", "kind": "lora"}]
    comps = [{"candidate": n, "delta": 0.0, "ci_low": -0.1, "ci_high": 0.1, "n": 50}
             for n in ("fa@old", "fb@old")]
    task = kit.task({"task": "t", "baseline": "zero@new", "variants": variants,
                     "comparisons": comps})
    assert decide_task(task, "old", "new", min_gain=0.02).old_adapter == "fa@old"


def test_the_prompt_search_ranks_its_candidates_by_the_same_rule() -> None:
    # Round ranking (search_run._rank): b and c tie on mean dev score 0.5; c used fewer mean
    # tokens per example (10 < 20), so c before b; a (0.25) last; z has no score: after all.
    from harness.search_run import _rank

    results = {"a": {"e1": (0.5, 10), "e2": (0.0, 10)}, "b": {"e1": (1.0, 20), "e2": (0.0, 20)},
               "c": {"e1": (0.0, 10), "e2": (1.0, 10)}, "z": {"e1": (math.nan, 5)}}
    assert [n for n, _ in _rank(["z", "a", "b", "c"], results, ["e1", "e2"])] == [
        "c", "b", "a", "z"]


def test_the_leaderboard_and_the_runner_up_follow_the_rule() -> None:
    # Leaderboard rows: dev 0.5, 0.5, 1.0, none (NaN) -> best first, the tie by name (p
    # before q), the unscored last.
    import numpy as np

    from harness.analysis.search import honesty_notes, leaderboard

    variants = [{"name": n, "kind": "prompt"} for n in ("q", "p", "top", "none")]
    dev = {"q": {"e1": 0.0, "e2": 1.0}, "p": {"e1": 1.0, "e2": 0.0},
           "top": {"e1": 1.0, "e2": 1.0}, "none": {"e1": math.nan}}
    board = leaderboard(variants, dev, {}, None, {}, np.random.default_rng(0), 50, 0.95)
    assert [r["name"] for r in board["rows"]] == ["top", "p", "q", "none"]
    # Runner-up to baseline b0 (dev 1, 0) among p (1, 0) and q (0, 1), tied at 0.5: p by
    # name, as best_on_dev says (the old max(mean, name) took q). p equals b0 on both
    # examples, so the note says they score the same.
    dev["b0"] = {"e1": 1.0, "e2": 0.0}
    *_, note = honesty_notes("b0", ["b0", "q", "p"], dev, np.random.default_rng(0), 50, 0.95)
    assert "(b0 and p) score the same on every one of 2 shared dev examples" in note
