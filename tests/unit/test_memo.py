"""Memo (harness/memo.py) and the tone scorers' caches that it holds (issue 15).

The tone scorers used to keep their style models and embeddings in module-level
dicts, the embedding one emptied outside its lock while scoring threads read it
(a KeyError in ``cosine``). They now live in the loaded task's ``memo``.
"""

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from harness.memo import Memo
from harness.scoring import style
from harness.tasks import Task


def test_get_or_make_makes_once_under_concurrent_callers() -> None:
    memo: Memo[str, int] = Memo()
    calls = []

    def make() -> int:
        calls.append(1)
        time.sleep(0.01)  # a slow build: the other threads must wait, not build again
        return 42

    threads = [threading.Thread(target=memo.get_or_make, args=("k", make)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1  # eight callers, one build
    assert memo.get_or_make("k", lambda: 0) == 42


def test_the_bound_empties_before_a_write_that_would_pass_it() -> None:
    memo: Memo[str, int] = Memo(max_entries=3)
    memo.put_many({"a": 1, "b": 2})
    memo.put_many({"c": 3})  # 3 entries: at the bound, kept
    assert memo.get_many("abc") == {"a": 1, "b": 2, "c": 3}
    memo.put_many({"d": 4})  # 4 > 3: emptied first, then d
    assert memo.get_many("abcd") == {"d": 4}
    assert len(memo) == 1


class _Encoder:
    """Unit vectors by first letter: a -> e0, b -> e1, a second 'a' word -> e0 too."""

    def encode(self, texts, *_args, **_kw):  # type: ignore[no-untyped-def]
        return np.array([[1.0, 0.0] if t.startswith("a") else [0.0, 1.0] for t in texts])


def test_cosine_keeps_its_vectors_when_the_cache_is_emptied(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cache = style.new_embeddings()
    monkeypatch.setattr(cache, "_max", 1)  # every write of two texts empties it first
    # "ab" and "ax" both map to e0: cosine 1.0; "ab" and "b" are orthogonal: 0.0.
    assert style.cosine("ab", "ax", cache, _Encoder()) == pytest.approx(1.0)  # type: ignore[arg-type]
    assert style.cosine("ab", "b", cache, _Encoder()) == pytest.approx(0.0)  # type: ignore[arg-type]


def test_each_loaded_task_has_its_own_memo() -> None:
    def task() -> Task:
        return Task(spec=None, path=Path("t.yaml"), examples={}, digest="d")  # type: ignore[arg-type]

    a, b = task(), task()
    a.memo.get_or_make("style_models", lambda: "A")
    assert b.memo.get_or_make("style_models", lambda: "B") == "B"  # not a's
    assert a == b  # the memo is not part of a task's identity
