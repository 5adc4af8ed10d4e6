"""What a task and a ``rag`` variant say about retrieval, and fitting passages to a budget.

A task names its collection in a ``knowledge`` block; a ``rag`` variant says
how many passages to retrieve (``k``), with which retriever (default: the
task's) and how many tokens the passages may take (``budget_tokens``,
counted with the backend's tokenizer). Passages are kept in rank order
until the budget is spent; the one that crosses it is truncated on a word
boundary and the rest dropped. The question is never truncated: it is not
part of the budget. A top passage larger than the whole budget is logged as
a warning (once per passage) and recorded as truncated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.collection import check_gold_ids as check_gold_ids
from harness.collection import gold_ids, load_collection
from harness.minilm import MiniLM
from harness.rag.index import Hit, KnowledgeIndex, build_index
from harness.rag.metrics import recall_at_k, reciprocal_rank
from harness.taskspec import KnowledgeSpec as KnowledgeSpec
from harness.taskspec import Retriever
from harness.tokens import word_spans

log = logging.getLogger(__name__)

MIN_TRUNCATED_TOKENS = 8
ELLIPSIS = " ..."


class RagSpec(BaseModel):
    """A ``rag`` variant's retrieval settings.

    Attributes:
        retriever: bm25, dense, hybrid or random; default the task's.
        k: Passages to retrieve (at least 1).
        budget_tokens: Tokens the passages may take in the prompt.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    retriever: Retriever | None = None
    k: int = 3
    budget_tokens: int = Field(512, ge=1, le=1_000_000)

    @field_validator("k")
    @classmethod
    def _k_positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"k must be at least 1 (passages to retrieve), got {value}")
        return value


def _truncate(text: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest word prefix of ``text`` (plus an ellipsis) within ``budget`` tokens.

    Words are :func:`~harness.tokens.word_spans`' (each character of Chinese
    or Japanese text is one), so unspaced text is cut too, not dropped whole.
    """
    ends = [end for _, end in word_spans(text)]
    lo, hi = 0, len(ends)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count(text[:ends[mid - 1]] + ELLIPSIS) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return text[:ends[lo - 1]] + ELLIPSIS if lo else ""


@dataclass(frozen=True)
class Fitted:
    """Passages that fit the budget, and what was cut."""

    passages: list[dict[str, Any]]
    dropped: int
    oversize: list[str] = field(default_factory=list)


def fit_passages(hits: Sequence[Hit], budget: int, count: Callable[[str], int]) -> Fitted:
    """Keep passages in rank order within ``budget`` tokens (see the module docstring)."""
    out: list[dict[str, Any]] = []
    left, oversize = budget, []
    for n, hit in enumerate(hits):
        tokens = count(hit.chunk.text)
        entry = {"id": hit.chunk.id, "passage_id": hit.chunk.passage_id,
                 "score": round(hit.score, 4), "tokens": tokens, "truncated": False,
                 "text": hit.chunk.text}
        if tokens > budget:
            oversize.append(hit.chunk.id)
        if tokens <= left:
            out.append(entry)
            left -= tokens
            continue
        if left >= MIN_TRUNCATED_TOKENS or n == 0:
            cut = _truncate(hit.chunk.text, left, count)
            if cut:
                out.append(entry | {"text": cut, "tokens": count(cut), "truncated": True})
        return Fitted(out, len(hits) - len(out), oversize)
    return Fitted(out, 0, oversize)


class Retrieval:
    """A task's index plus one rag variant's settings: passages for each input.

    Args:
        index: The built index.
        spec: The variant's settings.
        gold_column: The task's gold passage id column, if any.
        warn_key: Names the variant in warnings.
    """

    def __init__(self, index: KnowledgeIndex, spec: RagSpec, gold_column: str | None,
                 warn_key: str = "") -> None:
        self.index = index
        self.spec = spec
        self.gold_column = gold_column
        self.warn_key = warn_key
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self.queries = 0
        self.no_passage = 0

    def warn_no_passage(self) -> None:
        """Log how many queries so far retrieved no passage at all (nothing when none did).

        A query that shares no term with the collection retrieves nothing,
        and its prompt then has no passages: say so once per variant rather
        than let recall fall silently.
        """
        if self.no_passage:
            log.warning("%s: %d of %d queries retrieved no passage (they share no term "
                        "with the collection); see 'no passage' in the report",
                        self.warn_key, self.no_passage, self.queries)

    def passages(self, query: str, fields: Mapping[str, Any],
                 count: Callable[[str], int]) -> dict[str, Any]:
        """Retrieve, fit to the budget, and describe it for ``Output.detail``.

        Returns:
            ``{"retriever", "k", "budget_tokens", "retrieved", "passages",
            "dropped"}`` plus ``"retrieval": {"gold", "recall_at_k",
            "reciprocal_rank"}`` when the example has gold passage ids.
        """
        hits = self.index.search(query, self.spec.k)
        with self._lock:
            self.queries += 1
            self.no_passage += 0 if hits else 1
        fitted = fit_passages(hits, self.spec.budget_tokens, count)
        for cid in fitted.oversize:
            if cid not in self._warned:
                self._warned.add(cid)
                log.warning("%s: passage %s is larger than the whole budget of %d tokens; "
                            "it is truncated (raise budget_tokens or lower chunking.size)",
                            self.warn_key, cid, self.spec.budget_tokens)
        detail: dict[str, Any] = {
            "retriever": self.index.retriever, "k": self.spec.k,
            "budget_tokens": self.spec.budget_tokens,
            "retrieved": [h.chunk.id for h in hits], "passages": fitted.passages,
            "dropped": fitted.dropped}
        gold = gold_ids(fields, self.gold_column)
        if gold:
            ranked = [h.chunk.passage_id for h in hits]
            detail["retrieval"] = {"gold": sorted(gold),
                                   "recall_at_k": recall_at_k(ranked, gold, self.spec.k),
                                   "reciprocal_rank": reciprocal_rank(ranked, gold)}
        return detail


def open_retrieval(knowledge: KnowledgeSpec, task_path: Path, spec: RagSpec,
                   cache_root: str | Path | None, warn_key: str = "",
                   encoder: MiniLM | None = None) -> Retrieval:
    """Load the collection named by a task and build (or reuse) its index.

    ``encoder``: the run's MiniLM (a dense or hybrid retriever embeds with it).

    Raises:
        UsageError: Missing or empty collection, or dense without MiniLM.
    """
    path = (task_path.parent / knowledge.collection).resolve()
    coll = load_collection(path, knowledge.id_column, knowledge.text_column)
    retriever = spec.retriever or knowledge.retriever
    index = build_index(coll, knowledge.chunking, retriever, cache_root, encoder)
    return Retrieval(index, spec, knowledge.gold_column, warn_key)
