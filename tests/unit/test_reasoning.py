"""Reading answers: the reasoning variant's final answer line, and majority votes."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.reasoning import final_answer, majority, vote_key


@pytest.mark.parametrize(("text", "expected"), [
    ("The message is about a bill.\nAnswer: ORCA", "ORCA"),
    ("reasoning\nanswer:   TIDE  \n", "TIDE"),
    ("**Answer:** KELP", "KELP"), ("**Answer**: KELP", "KELP"),
    # A base model runs on into a made-up next example: its answers are not read.
    ("billing.\nAnswer: ORCA\n\nText: my parcel is late\nAnswer: TIDE", "ORCA"),
    # An explicit final answer wins over an earlier plain one.
    ("Answer: ORCA\nhmm, no.\nFinal answer: TIDE", "TIDE"),
    ('thinking\nAnswer: {"type": "DLY"}', '{"type": "DLY"}'),
    ("The answer is ORCA.", None),  # no line that starts with Answer:
    ("", None),
    ("Answer:", ""),
])
def test_final_answer(text, expected):
    assert final_answer(text) == expected


def test_majority_hand_worked():
    # B, A, -, A, B: A 2, B 2, a tie; B was drawn first (index 0): B wins.
    assert majority(["B", "A", None, "A", "B"]) == (0, {"b": 2, "a": 2})
    # A 1, B 3: B; its first draw is index 1.
    assert majority(["A", "B", "B", "B"]) == (1, {"a": 1, "b": 3})
    # JSON answers that differ only in key order or spacing are one answer.
    assert majority(['{"a": 1, "b": 2}', '{"b":2,"a":1}', '{"a": 3}']) == (
        0, {'{"a": 1, "b": 2}': 2, '{"a": 3}': 1})
    assert majority([None, None]) == (None, {})


def test_vote_key():
    assert vote_key(" Tide  river ") == "tide river"
    assert vote_key("{not json") == "{not json"


@given(st.lists(st.one_of(st.none(), st.sampled_from(["A", "B", "C"])), min_size=1,
                max_size=12))
def test_majority_is_the_most_frequent_valid_answer_earliest_on_ties(draws):
    winner, votes = majority(draws)
    valid = [d for d in draws if d is not None]
    if not valid:
        assert (winner, votes) == (None, {})
        return
    counts = Counter(d.casefold() for d in valid)
    assert votes == dict(counts)
    assert winner is not None and draws[winner] is not None
    top = max(counts.values())
    assert counts[draws[winner].casefold()] == top
    # No earlier draw holds an answer with as many votes.
    assert all(d is None or counts[d.casefold()] < top for d in draws[:winner])
