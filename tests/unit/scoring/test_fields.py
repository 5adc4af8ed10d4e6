"""The fields of a JSON answer: paths, list alignment, leaf normalisation, and their laws."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.scoring.fields import compare, leaf_key, leaves, pointer, recorded_normalize
from harness.taskspec import Normalize

HOW = Normalize()

# Issue 14 case 1: the same order with the two qty values swapped.
GOLD = {"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}
SWAPPED = {"queue": "BILL", "items": [{"sku": "A", "qty": 5}, {"sku": "B", "qty": 1}]}


def test_swapped_item_values_are_not_the_gold() -> None:
    # Gold leaves: /queue, /items/0/sku, /items/0/qty, /items/1/sku, /items/1/qty = 5;
    # the output has the same 5. Items are aligned as whole objects: pairing {A,5}
    # with {A,1} keeps sku (1 match) and {B,1} with {B,5} keeps sku (1 match) = 2;
    # the crossed pairing keeps the two qty values = 2 as well; either way the
    # item fields give 2 matches, plus /queue = 3 of 5. P = R = F1 = 3/5 = 0.6.
    c = compare(GOLD, SWAPPED, HOW)
    assert (c.matched, c.n_gold, c.n_pred) == (3, 5, 5)
    assert c.precision == pytest.approx(0.6)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(0.6)
    assert not c.exact
    # The tie keeps list order: item 0 with item 0, so the skus match, the qtys differ.
    status = {pointer(d.path): d.status for d in c.diffs}
    assert status == {"/queue": "ok", "/items/0/sku": "ok", "/items/0/qty": "bad",
                      "/items/1/sku": "ok", "/items/1/qty": "bad"}


def test_reordered_whole_items_are_the_gold() -> None:
    # The same two items in the other order: every field of each item stays with it.
    c = compare(GOLD, {"items": GOLD["items"][::-1], "queue": "bill"}, HOW)
    assert c.exact and c.f1 == 1.0


def test_a_dotted_key_is_not_a_nested_key() -> None:
    # Gold field /ref.id = "7"; the output's only field is /ref/id = "7": no common
    # path, so 0 matched of 1 gold and 1 predicted field: P = R = F1 = 0.
    c = compare({"ref.id": "7"}, {"ref": {"id": "7"}}, HOW)
    assert (c.matched, c.n_gold, c.n_pred) == (0, 1, 1)
    assert (c.precision, c.recall, c.f1, c.exact) == (0.0, 0.0, 0.0, False)
    assert [(pointer(d.path), d.status) for d in c.diffs] == [("/ref.id", "miss"),
                                                             ("/ref/id", "extra")]


def test_pointer_escapes_slash_and_tilde_rfc6901() -> None:
    # RFC 6901 section 3: "~" is written "~0" and "/" is written "~1".
    assert pointer(("a/b", "m~n", 0)) == "/a~1b/m~0n/0"
    assert pointer(("a", "b")) != pointer(("a/b",))


def test_leaf_types_are_kept() -> None:
    # A string is not true, null or (without numbers by value) a number.
    assert leaf_key("true", HOW) != leaf_key(True, HOW)
    assert leaf_key("null", HOW) != leaf_key(None, HOW)
    assert leaf_key("2", Normalize(numbers=False)) != leaf_key(2, Normalize(numbers=False))
    assert leaf_key("[]", HOW) != leaf_key([], HOW)
    # Numbers by value, exactly: 2**53 + 1 is not 2**53 (a float would say it is).
    assert leaf_key("2.50", HOW) == leaf_key(2.5, HOW) == leaf_key(2.500, HOW)
    assert leaf_key(2**53, HOW) != leaf_key(2**53 + 1, HOW)
    assert leaf_key(-0.0, HOW) == leaf_key(0, HOW)


def test_unpaired_items_are_missing_or_extra() -> None:
    # Gold ["mug", "mug", "lamp"] vs ["lamp", "mug"]: 2 pairs match; one gold "mug"
    # is missing: P = 2/2, R = 2/3.
    c = compare({"x": ["mug", "mug", "lamp"]}, {"x": ["lamp", "mug"]}, HOW)
    assert (c.matched, c.n_gold, c.n_pred) == (2, 3, 2)
    # An output item with no gold counterpart is numbered after the gold's items.
    c = compare({"x": ["a"]}, {"x": ["b", "a"]}, HOW)
    assert [(pointer(d.path), d.status) for d in c.diffs] == [("/x/0", "ok"), ("/x/1", "extra")]


def test_structure_mismatch_is_missing_and_extra() -> None:
    # Gold /a is a scalar; the output's /a an object: the gold field is missing and
    # the output's /a/b extra (not one "bad" field). Empty containers are fields.
    c = compare({"a": 1, "e": []}, {"a": {"b": 1}, "e": {}}, HOW)
    assert sorted((pointer(d.path), d.status) for d in c.diffs) == [
        ("/a", "miss"), ("/a/b", "extra"), ("/e", "bad")]


def test_readers_of_a_run_use_the_recorded_normalisation() -> None:
    # config.to_json records each task's normalize; old runs and bad entries: default.
    assert recorded_normalize({"normalize": {"case": False}}) == Normalize(case=False)
    assert recorded_normalize({}) == Normalize()
    assert recorded_normalize({"normalize": {"case": "maybe"}}) == Normalize()


# ---- properties ---------------------------------------------------------------

_KEYS = st.sampled_from(["a", "b", "a.b", "a/b", "~"])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3),
                     st.sampled_from([0.5, 2.0, -1.25]),
                     st.sampled_from(["x", "X ", "y", "2", "true", "null", ""]))
_JSON = st.recursive(_SCALARS, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.dictionaries(_KEYS, kids, max_size=3)), max_leaves=8)
_OBJECTS = st.dictionaries(_KEYS, _JSON, max_size=3)
_NORMS = st.builds(Normalize, case=st.booleans(), whitespace=st.booleans(),
                   punctuation=st.booleans(), numbers=st.booleans())


def _canonical(value: Any, how: Normalize) -> Any:
    """The oracle: the normalised tree, object keys and list items in a fixed order."""
    if not isinstance(value, dict | list) or not value:
        return ("leaf", leaf_key(value, how))
    if isinstance(value, dict):
        return ("obj", tuple(sorted((k, _canonical(v, how)) for k, v in value.items())))
    return ("list", tuple(sorted((_canonical(v, how) for v in value), key=repr)))


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _shuffled(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        items = [_shuffled(v, rng) for v in value]
        rng.shuffle(items)
        return items
    return value


@settings(max_examples=300, deadline=None)
@given(_OBJECTS, _OBJECTS, _NORMS)
def test_exact_iff_normalised_trees_are_equal(gold: Any, pred: Any, how: Normalize) -> None:
    c = compare(gold, pred, how)
    same = _canonical(gold, how) == _canonical(pred, how)
    assert c.exact == same
    assert (c.f1 == 1.0) == same  # F1 is 1 only for the gold itself
    assert 0 <= c.matched <= min(c.n_gold, c.n_pred)
    assert c.n_gold == sum(1 for _ in leaves(gold)) and c.n_pred == sum(1 for _ in leaves(pred))


@settings(max_examples=200, deadline=None)
@given(_OBJECTS, _OBJECTS, _NORMS)
def test_swapping_gold_and_output_swaps_precision_and_recall(gold: Any, pred: Any,
                                                              how: Normalize) -> None:
    ab, ba = compare(gold, pred, how), compare(pred, gold, how)
    assert ab.matched == ba.matched
    assert ab.precision == pytest.approx(ba.recall)
    assert ab.recall == pytest.approx(ba.precision)
    assert ab.f1 == pytest.approx(ba.f1)


@settings(max_examples=200, deadline=None)
@given(_OBJECTS, _OBJECTS, st.integers(0, 2**32 - 1))
def test_permuting_whole_list_items_leaves_scores_unchanged(gold: Any, pred: Any,
                                                            seed: int) -> None:
    rng = random.Random(seed)
    base = compare(gold, pred, HOW)
    moved = compare(_shuffled(gold, rng), _shuffled(pred, rng), HOW)
    assert (moved.matched, moved.n_gold, moved.n_pred, moved.exact) == (
        base.matched, base.n_gold, base.n_pred, base.exact)
    assert compare(gold, _shuffled(gold, rng), HOW).exact
