"""Running a prompt search on dev: successive halving within the budget.

For each task the candidates that fit it (:func:`harness.variants.search.fitting`)
are scored on a seeded, nested prefix of the dev split: every candidate on
the first round's examples, then the best ``1/eta`` on more, and so on
(:func:`harness.variants.search.schedule`). Scores are read back from the
store, so a rerun is served from the cache and a bigger budget only adds the
examples it did not have. Test is never touched here: the runner runs the
winner on test afterwards, and the analysis compares on test only.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.analysis.choice import dev_rank
from harness.backends.base import ModelSpec
from harness.config import RunConfig
from harness.errors import UsageError
from harness.sampling import sample_split
from harness.store import Store
from harness.tasks import Example, Task
from harness.variants.prompt import Variant
from harness.variants.search import (
    Candidate,
    PromptSearchSpec,
    Round,
    allowance,
    fitting,
    round_requests,
    task_schedule,
)

RunCandidate = Callable[[Task, Candidate, Sequence[Example]], None]
"""The runner's: runs a candidate on a task's dev examples (each sample; stored ones skipped)."""
RunGroup = Callable[[Candidate, Sequence[Example]], None]
"""Runs one candidate on the given dev examples (each sample; cached ones skipped)."""
ReadDev = Callable[[str], Mapping[str, tuple[float, int]]]
"""A candidate's dev results so far: example id -> (mean primary score, tokens used)."""


@dataclass
class SearchOutcome:
    """What one task's search did: rounds, scores, spend and the winner.

    Attributes:
        task: Task name.
        model: Model spec the search ran on.
        rounds: Per round: the candidates in it, the dev examples each got,
            and each candidate's mean dev score on those examples.
        winner: The best candidate of the last round completed (None when
            the budget stopped the search before any round completed).
        stopped: Why the search stopped early, or None when it completed.
        requests: Dev requests (units) the search's candidates hold.
        tokens: Prompt plus completion tokens of those requests.
        seconds: Wall time of the search.
        budget: The task's share of the budget.
    """

    task: str
    model: str
    rounds: list[dict[str, Any]] = field(default_factory=list)
    winner: str | None = None
    stopped: str | None = None
    requests: int = 0
    tokens: int = 0
    seconds: float = 0.0
    budget: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The record kept in the store (``searches``)."""
        return {"task": self.task, "model": self.model, "rounds": self.rounds,
                "winner": self.winner, "stopped": self.stopped, "requests": self.requests,
                "tokens": self.tokens, "seconds": self.seconds, "budget": self.budget}


def dev_order(task: Task, examples: Sequence[Example], seed: int) -> list[Example]:
    """Dev examples in a seeded order: each round scores a prefix of it (nested, so cached)."""
    def rank(ex: Example) -> str:
        return hashlib.sha256(f"{seed}:search:{task.name}:{ex.id}".encode()).hexdigest()

    return sorted(examples, key=rank)


def _rank(names: Sequence[str], results: Mapping[str, Mapping[str, tuple[float, int]]],
          ids: Sequence[str]) -> list[tuple[str, float]]:
    """Candidates by mean dev score on ``ids`` (best first; ties: fewer tokens, then name)."""
    rows = []
    for name in names:
        got = [results[name][i] for i in ids if i in results[name]]
        vals = [s for s, _ in got if not math.isnan(s)]
        score = sum(vals) / len(vals) if vals else -math.inf
        tokens = sum(t for _, t in got) / len(got) if got else math.inf
        rows.append((name, score, tokens))
    rows.sort(key=lambda r: dev_rank(r[0], r[1], r[2]))  # the one rule: analysis/choice.py
    return [(n, s) for n, s, _ in rows]


class _Spend:
    """The search's running spend against a task's share of the budget."""

    def __init__(self, spec: PromptSearchSpec, n_tasks: int) -> None:
        self.share = allowance(spec.budget, n_tasks)
        self.start = time.monotonic()

    def exhausted(self, tokens: int) -> str | None:
        """Why the budget is spent (tokens or minutes), or None."""
        if self.share.tokens is not None and tokens >= self.share.tokens:
            return f"token budget ({self.share.tokens:,} tokens) reached"
        minutes = (time.monotonic() - self.start) / 60
        if self.share.minutes is not None and minutes >= self.share.minutes:
            return f"time budget ({self.share.minutes:g} minutes) reached"
        return None


def search_task(spec: PromptSearchSpec, task: Task, model: str, candidates: Sequence[Candidate],
                dev: Sequence[Example], seed: int, samples: int, n_tasks: int,
                run_group: RunGroup, read_dev: ReadDev) -> SearchOutcome:
    """Successive halving of ``candidates`` on ``task``'s dev examples.

    Args:
        spec: The config's ``prompt_search``.
        task: The task searched.
        model: The model spec (for the record).
        candidates: Candidates that fit the task (at least one).
        dev: The dev examples the run uses (after ``limit``).
        seed: The run's seed (fixes the dev order).
        samples: Samples per example (requests per dev example).
        n_tasks: Tasks sharing the budget.
        run_group: Runs a candidate on dev examples (the runner's).
        read_dev: Reads a candidate's stored dev results.

    Returns:
        The outcome; its ``winner`` runs on test next.

    Raises:
        ValueError: The budget does not fit (checked at load already).
    """
    rounds = task_schedule(spec, len(candidates), len(dev), samples, n_tasks)
    order = dev_order(task, dev, seed)
    by_name = {c.variant.name: c for c in candidates}
    spend = _Spend(spec, n_tasks)
    out = SearchOutcome(task.name, model, budget=spend.share.model_dump())
    alive = list(by_name)
    results: dict[str, Mapping[str, tuple[float, int]]] = {}
    for r, rnd in enumerate(rounds):
        alive = alive[: rnd.candidates]
        prefix = order[: rnd.examples]
        done = []
        for name in alive:
            reason = spend.exhausted(_tokens(results))
            if reason is not None:
                out.stopped = f"{reason} in round {r + 1} of {len(rounds)}"
                break
            run_group(by_name[name], prefix)
            results[name] = read_dev(name)
            done.append(name)
        ids = [ex.id for ex in prefix]
        ranked = _rank(done, results, ids)
        out.rounds.append(_round_json(rnd, ranked, complete=out.stopped is None))
        if out.stopped is not None or not ranked:
            break
        alive = [n for n, _ in ranked]
    # The deepest round's leader: every candidate in a round saw the same examples,
    # and the previous leader is always scored first in the next round.
    best = out.rounds[-1]["ranking"][0] if out.rounds and out.rounds[-1]["ranking"] else None
    if best is not None and best["dev_score"] is not None:
        out.winner = best["name"]
    out.requests = sum(len(v) for v in results.values()) * samples
    out.tokens = _tokens(results)
    out.seconds = time.monotonic() - spend.start
    return out


def _tokens(results: Mapping[str, Mapping[str, tuple[float, int]]]) -> int:
    return sum(t for per in results.values() for _, t in per.values())


def _round_json(rnd: Round, ranked: Sequence[tuple[str, float]], complete: bool
                ) -> dict[str, Any]:
    return {"candidates": rnd.candidates, "examples": rnd.examples, "complete": complete,
            "ranking": [{"name": n, "dev_score": None if math.isinf(s) else s}
                        for n, s in ranked]}


@dataclass(frozen=True)
class SearchCount:
    """One task's prompt search at most (every round full), in units (example x sample).

    Attributes:
        task: The task searched.
        candidates: The candidates that fit it, in the search's order.
        first: The first round's dev examples (every candidate runs them).
        samples: The run's samples per example.
        later: Units of the later rounds (survivors only, new examples only).
        winner: Units of the winner's remaining dev examples and its test examples.
    """

    task: Task
    candidates: tuple[Candidate, ...]
    first: tuple[Example, ...]
    samples: int
    later: int
    winner: int

    @property
    def total(self) -> int:
        """Every unit the search and its winner make at most."""
        return len(self.candidates) * len(self.first) * self.samples + self.later + self.winner


def search_counts(cfg: RunConfig) -> list[SearchCount]:
    """Each searched task's worst case: the one place the search's size is computed.

    The runner's progress total and ``tunegate estimate`` both read it; a run
    makes exactly this many units unless the budget stops a round early.
    """
    search = cfg.spec.prompt_search
    if search is None:
        return []
    samples = cfg.spec.samples
    searched = [t for t in cfg.tasks if fitting(t, cfg.candidates)]
    counts = []
    for task in searched:
        cands = tuple(fitting(task, cfg.candidates))
        dev = _split(cfg, task, "dev")
        rounds = task_schedule(search, len(cands), len(dev), samples, len(searched))
        first = tuple(dev_order(task, dev, cfg.spec.seed)[: rounds[0].examples])
        later = round_requests(rounds, samples) - len(cands) * len(first) * samples
        winner = samples * (len(dev) - rounds[-1].examples + len(_split(cfg, task, "test")))
        counts.append(SearchCount(task, cands, first, samples, later, winner))
    return counts


def search_total(cfg: RunConfig) -> int:
    """The search's units at most (every round full) and its winners', for progress totals."""
    return sum(c.total for c in search_counts(cfg))


def _split(cfg: RunConfig, task: Task, split: str) -> tuple[Example, ...]:
    """The split's examples as the run uses them (after ``limit``)."""
    limit = cfg.spec.limit.get("dev" if split == "dev" else "test")
    return sample_split(task, split, limit, cfg.spec.seed)


def run_searches(cfg: RunConfig, store: Store, run_id: str, spec: ModelSpec,
                 run_candidate: RunCandidate, note: Callable[[str], None]) -> dict[str, Variant]:
    """Every task's prompt search on ``spec``, recorded in the store; each task's winner.

    Raises:
        UsageError: No candidate of a task could be scored on dev (every one
            failed, or the budget stopped the search before any finished).
    """
    search = cfg.spec.prompt_search
    if search is None or not cfg.candidates:
        return {}
    searched = [t for t in cfg.tasks if fitting(t, cfg.candidates)]
    winners: dict[str, Variant] = {}
    for task in searched:
        cands = fitting(task, cfg.candidates)

        def run_group(cand: Candidate, examples: Sequence[Example], task: Task = task) -> None:
            run_candidate(task, cand, examples)

        def read_dev(name: str, task: Task = task) -> dict[str, tuple[float, int]]:
            return store.dev_results(run_id, task.name, name, str(spec), task.primary_scorer)

        outcome = search_task(search, task, str(spec), cands, _split(cfg, task, "dev"),
                              cfg.spec.seed, cfg.spec.samples, len(searched), run_group,
                              read_dev)
        store.put_search(run_id, task.name, str(spec), outcome.to_json())
        note(f"search {task.name}: {len(cands)} candidates, {outcome.requests} dev requests, "
             f"winner {outcome.winner}" + (f" ({outcome.stopped})" if outcome.stopped else ""))
        if outcome.winner is None:
            why = outcome.stopped or "every candidate failed"
            raise UsageError(f"prompt_search: no candidate could be scored on task "
                             f"{task.name!r}'s dev split ({why}); the failed records are in "
                             f"run {run_id}", cfg.path,
                             hint="see `tunegate report` for the errors, or raise the budget")
        winners[task.name] = next(c.variant for c in cands if c.variant.name == outcome.winner)
    return winners
