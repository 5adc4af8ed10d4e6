"""CachedModel: cache hits cost no call, transient errors back off and give up."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.backends.base import (
    Capabilities,
    GenRequest,
    GenResponse,
    ScoreRequest,
    ScoreResponse,
    TransientBackendError,
)
from harness.client import CachedModel
from harness.store import Store


class Scripted:
    """A backend that fails ``fail`` times (with ``retry_after``) before answering."""

    def __init__(self, fail: int = 0, retry_after: float | None = None,
                 adapter: str | None = None) -> None:
        self.capabilities = Capabilities(logprobs=True, tokenizer=False, max_concurrency=2)
        self.fail, self.retry_after, self.adapter = fail, retry_after, adapter
        self.attempts = 0
        self.delay = 0.0

    @property
    def identity(self) -> dict[str, str | None]:
        return {"backend": "scripted", "model": "m", "adapter": self.adapter}

    def _attempt(self) -> None:
        self.attempts += 1
        if self.attempts <= self.fail:
            raise TransientBackendError("429", retry_after=self.retry_after)

    def generate(self, request: GenRequest) -> GenResponse:
        self._attempt()
        time.sleep(self.delay)
        return GenResponse(request.prompt.upper(), len(request.prompt), 2, "length")

    def score(self, request: ScoreRequest) -> ScoreResponse:
        self._attempt()
        return ScoreResponse(tuple(-float(len(c)) for c in request.continuations),
                             tuple(1 for _ in request.continuations), 3)

    def count_tokens(self, text: str) -> int:
        return len(text)

    def close(self) -> None:
        pass



def test_miss_then_hit_makes_one_backend_call(store):
    backend = Scripted()
    model = CachedModel(backend, store, sleep=lambda s: None)
    resp, usage = model.generate(GenRequest("hello"))
    assert resp == GenResponse("HELLO", 5, 2, "length")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached) == (5, 2, False)
    again, usage2 = model.generate(GenRequest("hello"))
    assert again == resp
    assert usage2.cached and usage2.latency_s == pytest.approx(usage.latency_s)
    assert (backend.attempts, model.calls, model.hits) == (1, 1, 1)


def test_score_responses_round_trip_as_tuples(store):
    backend = Scripted()
    model = CachedModel(backend, store)
    first, _ = model.score(ScoreRequest("p", (" A", " BB")))
    second, usage = CachedModel(Scripted(), store).score(ScoreRequest("p", (" A", " BB")))
    assert first == second == ScoreResponse((-2.0, -3.0), (1, 1), 3)
    assert usage.cached and usage.completion_tokens == 0


def test_cache_is_per_identity_and_sample(store):
    CachedModel(Scripted(), store).generate(GenRequest("x"))
    other = Scripted(adapter="lora")
    CachedModel(other, store).generate(GenRequest("x"))
    assert other.attempts == 1
    same = Scripted()
    model = CachedModel(same, store)
    model.generate(GenRequest("x"), sample=1)
    model.generate(GenRequest("x", temperature=0.5))
    model.generate(GenRequest("x"))
    assert (same.attempts, model.calls, model.hits) == (2, 2, 1)


def test_transient_errors_back_off_exponentially(store):
    delays: list[float] = []
    backend = Scripted(fail=4)
    model = CachedModel(backend, store, max_retries=4, base_delay=1.0, sleep=delays.append)
    resp, usage = model.generate(GenRequest("q"))
    assert resp.text == "Q" and not usage.cached
    assert backend.attempts == 5
    assert (model.calls, model.retries) == (1, 4)
    assert len(delays) == 4
    for attempt, delay in enumerate(delays):
        assert 0.5 * 2**attempt <= delay < 1.5 * 2**attempt
    assert delays[2] > delays[0] and delays[3] > delays[1]


def test_backoff_is_seeded(tmp_path):
    runs = []
    for i in range(2):
        delays: list[float] = []
        s = Store(tmp_path / f"s{i}")
        CachedModel(Scripted(fail=3), s, seed=5, sleep=delays.append).generate(GenRequest("q"))
        s.close()
        runs.append(delays)
    assert runs[0] == runs[1]


def test_retry_after_is_honoured(store):
    delays: list[float] = []
    model = CachedModel(Scripted(fail=2, retry_after=30.0), store, base_delay=0.1,
                        sleep=delays.append)
    model.score(ScoreRequest("p", ("a",)))
    assert delays == [30.0, 30.0]


def test_gives_up_after_max_retries(store):
    delays: list[float] = []
    backend = Scripted(fail=10)
    model = CachedModel(backend, store, max_retries=2, sleep=delays.append)
    with pytest.raises(TransientBackendError, match="429"):
        model.generate(GenRequest("q"))
    assert backend.attempts == 3 and len(delays) == 2
    assert (model.calls, model.retries) == (0, 2)
    key_free = Scripted()
    CachedModel(key_free, store).generate(GenRequest("q"))
    assert key_free.attempts == 1  # the failure was not cached


def test_no_retries_when_max_retries_is_zero(store):
    delays: list[float] = []
    model = CachedModel(Scripted(fail=1), store, max_retries=0, sleep=delays.append)
    with pytest.raises(TransientBackendError):
        model.generate(GenRequest("q"))
    assert delays == []


def test_identical_concurrent_requests_cost_one_call(store):
    backend = Scripted()
    backend.delay = 0.05
    model = CachedModel(backend, store)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: model.generate(GenRequest("same")), range(8)))
    assert {resp for resp, _ in results} == {GenResponse("SAME", 4, 2, "length")}
    assert sum(not usage.cached for _, usage in results) == 1
    assert (backend.attempts, model.calls, model.hits) == (1, 1, 7)
