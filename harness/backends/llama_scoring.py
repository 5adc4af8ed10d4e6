"""Fast label log-likelihoods on a llama.cpp model, in-process.

The prompt is decoded once on sequence 0 (reusing the longest common prefix
with the previous prompt, so a shared few-shot block is processed once).
Then every label's tokens are decoded in one batch, each label on its own
sequence that shares the prompt's KV cells, and log-softmax is computed
with numpy only for the rows that are needed. That is one or two decode
calls per example instead of one per label.

Built on llama-cpp-python 0.3.36 internals (pinned in the ``embedded`` extra).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_SEQS = 32


def log_softmax_at(row: np.ndarray, token: int) -> float:
    """``log p(token)`` from one row of logits."""
    m = row.max()
    return float(row[token] - m) - float(np.log(np.exp(row - m).sum(dtype=np.float64)))


class LabelScorer:
    """A scoring context beside a ``llama_cpp.Llama`` (sharing its weights).

    Args:
        llm: The loaded model.
        n_ctx: Context size of the scoring context.
    """

    def __init__(self, llm: Any, n_ctx: int) -> None:
        import llama_cpp
        from llama_cpp import _internals as internals

        self._lib = llama_cpp
        params = llama_cpp.llama_context_default_params()
        ctypes.pointer(params)[0] = llm.context_params
        params.n_ctx = n_ctx
        params.n_seq_max = MAX_SEQS
        params.kv_unified = True
        params.n_batch = params.n_ubatch = llm.n_batch
        self._ctx = internals.LlamaContext(model=llm._model, params=params, verbose=False)
        if llm._lora_adapter is not None:
            llama_cpp.llama_set_adapter_lora(self._ctx.ctx, llm._lora_adapter, 1.0)
        self._batch = internals.LlamaBatch(n_tokens=llm.n_batch, embd=0, n_seq_max=1,
                                           verbose=False)
        self._n_batch = llm.n_batch
        self._n_vocab = llm.n_vocab()
        self._cached: list[int] = []
        self._last: np.ndarray | None = None
        self.n_ctx = n_ctx

    def _rm(self, seq: int, p0: int = -1) -> None:
        self._lib.llama_memory_seq_rm(self._ctx.memory, seq, p0, -1)

    def _decode(self, items: Sequence[tuple[int, int, int, bool]]) -> np.ndarray:
        """Decode ``(token, pos, seq, want_logits)`` items; return the wanted rows."""
        b = self._batch.batch
        b.n_tokens = len(items)
        for j, (tok, pos, seq, want) in enumerate(items):
            b.token[j], b.pos[j], b.n_seq_id[j] = tok, pos, 1
            b.seq_id[j][0] = seq
            b.logits[j] = want
        rc = self._lib.llama_decode(self._ctx.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed with code {rc}")
        n_out = sum(1 for it in items if it[3])
        ptr = self._lib.llama_get_logits(self._ctx.ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out * self._n_vocab,)).reshape(
            n_out, self._n_vocab).copy()

    def _prompt(self, prompt: list[int]) -> np.ndarray:
        if prompt == self._cached and self._last is not None:
            return self._last
        common = 0
        for a, b in zip(self._cached, prompt, strict=False):
            if a != b:
                break
            common += 1
        common = min(common, len(prompt) - 1)
        self._rm(0, common)
        self._cached, self._last = self._cached[:common], None
        last = np.empty(0)
        for start in range(common, len(prompt), self._n_batch):
            chunk = prompt[start:start + self._n_batch]
            end = start + len(chunk)
            last = self._decode([(t, start + i, 0, start + i == len(prompt) - 1)
                                 for i, t in enumerate(chunk)]) if end == len(prompt) else \
                self._decode([(t, start + i, 0, False) for i, t in enumerate(chunk[:-1])]
                             + [(chunk[-1], end - 1, 0, True)])
        self._cached = list(prompt)
        self._last = last[-1]
        return self._last

    def score(self, prompt: list[int], conts: Sequence[list[int]]) -> list[float]:
        """Summed log-probability of each continuation's tokens after ``prompt``."""
        last = self._prompt(prompt)
        totals = [log_softmax_at(last, c[0]) for c in conts]
        n = len(prompt)
        todo = [i for i, c in enumerate(conts) if len(c) > 1]
        group: list[int] = []
        for i in todo + [-1]:
            size = sum(len(conts[g]) - 1 for g in group)
            full = i == -1 or len(group) == MAX_SEQS - 1 or \
                size + len(conts[i]) - 1 > self._n_batch
            if full and group:
                self._score_group(n, conts, group, totals)
                group = []
            if i != -1:
                group.append(i)
        return totals

    def _score_group(self, n: int, conts: Sequence[list[int]], group: list[int],
                     totals: list[float]) -> None:
        items = []
        for seq, i in enumerate(group, start=1):
            self._rm(seq)
            self._lib.llama_memory_seq_cp(self._ctx.memory, 0, seq, 0, n)
            items += [(t, n + j, seq, True) for j, t in enumerate(conts[i][:-1])]
        rows = self._decode(items)
        r = 0
        for i in group:
            cont = conts[i]
            for j in range(1, len(cont)):
                totals[i] += log_softmax_at(rows[r], cont[j])
                r += 1
        for seq in range(1, len(group) + 1):
            self._rm(seq)

    def close(self) -> None:
        """Free the context."""
        self._batch.close()  # type: ignore[no-untyped-call]
        self._ctx.close()  # type: ignore[no-untyped-call]
