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
