"""Few-shot demonstrations, always from the ``train`` split (never dev or test).

Three ways to pick the ``shots: k`` examples (``shot_selection``):

- ``stratified``: round-robin over the labels (each label's pool shuffled,
  seeded), then shuffled; the same shots for every input.
- ``random``: a seeded sample of ``train``; the same shots for every input.
- ``similar``: per input, the k train examples whose MiniLM embeddings
  (all-MiniLM-L6-v2, L2-normalised) have the highest cosine similarity with
  the input's (Liu et al., 2022, "What Makes Good In-Context Examples for
  GPT-3?", KATE). Ties are broken by example id. The shots are shown in
  ascending similarity, so the most similar example comes last, next to the
  input (their "reversed" order). The train embeddings are computed once per
  task by :class:`ShotSelector` and kept for its lifetime, keyed by a digest
  of the train split's ids and inputs.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from harness.errors import UsageError
from harness.minilm import MiniLM
from harness.tasks import Example, Task
from harness.variants.prompt import Variant

Vectors = NDArray[np.float32]
Encoder = Callable[[Sequence[str]], Vectors]
"""Texts -> one L2-normalised row per text."""
SIMILARITY_DECIMALS = 6
"""Cosines are compared rounded, so float noise never decides a tie (the id does)."""


def select_shots(task: Task, variant: Variant, seed: int) -> tuple[Example, ...]:
    """Draw a ``stratified`` or ``random`` variant's few-shot examples from ``train``.

    The draw depends only on the seed, the task, ``k`` and the selection rule,
    not on the variant's name: the same shots serve every example (so the
    prompt prefix can be cached), and variants that differ only in template,
    instructions or calibration see the same demonstrations. A comparison
    between them then measures that difference alone, and a calibrated
    few-shot variant (Zhao et al., 2021, compare calibrated and uncalibrated
    scores of one prompt) sends the plain variant's label-scoring requests,
    which the response cache already holds.

    Raises:
        UsageError: The variant wants shots but the task has no train split.
        ValueError: A ``similar`` variant (its shots depend on the input: use
            :class:`ShotSelector`).
    """
    k = variant.spec.shots
    if k == 0:
        return ()
    if variant.spec.shot_selection == "similar":
        raise ValueError("shot_selection: similar picks shots per input; use ShotSelector")
    train = _train(task, variant)
    rng = random.Random(f"{seed}:{task.name}:{k}:{variant.spec.shot_selection}")
    if variant.spec.shot_selection == "random":
        return tuple(rng.sample(train, min(k, len(train))))
    by_label: dict[str, list[Example]] = {}
    for ex in train:
        by_label.setdefault(ex.target, []).append(ex)
    pools = [rng.sample(v, len(v)) for _, v in sorted(by_label.items())]
    rng.shuffle(pools)
    picked: list[Example] = []
    while len(picked) < min(k, len(train)):
        for pool in pools:
            if pool and len(picked) < k:
                picked.append(pool.pop())
    rng.shuffle(picked)
    return tuple(picked)


def _train(task: Task, variant: Variant) -> list[Example]:
    train = list(task.split("train"))
    if not train:
        raise UsageError(f"variant {variant.name!r} needs {variant.spec.shots} shots but task "
                         f"{task.name!r} has no train split", variant.path,
                         variant.line_of("shots"))
    return train


def nearest(train: Sequence[Example], vectors: Vectors, query: Vectors, k: int
            ) -> tuple[Example, ...]:
    """The ``k`` train examples most similar to ``query``, most similar last.

    Args:
        train: The candidates.
        vectors: ``len(train) x dim``, rows L2-normalised (cosine = dot product).
        query: ``dim``, L2-normalised.
        k: How many (all of ``train`` when it has fewer).

    Returns:
        The examples in ascending similarity; between equal similarities the
        smaller id ranks as more similar (so it is kept first and shown later).
    """
    sims = np.round(vectors @ query, SIMILARITY_DECIMALS)
    order = sorted(range(len(train)), key=lambda i: (-float(sims[i]), train[i].id))[:k]
    return tuple(train[i] for i in reversed(order))


@dataclass(frozen=True)
class FixedShots:
    """The same shots for every input (``stratified`` and ``random``)."""

    shots: tuple[Example, ...]

    def for_input(self, text: str) -> tuple[Example, ...]:
        """The shots (whatever the input)."""
        return self.shots


class NearestShots:
    """The k train examples nearest to each input (``similar``).

    Args:
        train: The task's train split.
        vectors: Its embeddings (``len(train) x dim``, normalised).
        k: Shots per input.
        embed_query: One input -> its normalised embedding (cached by the selector).
    """

    def __init__(self, train: tuple[Example, ...], vectors: Vectors, k: int,
                 embed_query: Callable[[str], Vectors]) -> None:
        self.train, self.vectors, self.k = train, vectors, k
        self._embed_query = embed_query

    def for_input(self, text: str) -> tuple[Example, ...]:
        """The ``k`` train examples nearest to ``text``, most similar last."""
        return nearest(self.train, self.vectors, self._embed_query(text), self.k)


ShotSource = FixedShots | NearestShots


def minilm_encoder(encoder: MiniLM) -> Encoder:
    """Texts -> normalised MiniLM (all-MiniLM-L6-v2) embeddings, one row per text.

    The encoder raises UsageError when the MiniLM package is not installed.
    """
    def encode(texts: Sequence[str]) -> Vectors:
        return encoder.encode(texts, "shot_selection: similar",
                              "use shot_selection: stratified or random")

    return encode


def train_digest(train: Sequence[Example]) -> str:
    """SHA-256 over the train split's ids and inputs (what the embeddings depend on)."""
    blob = json.dumps([[ex.id, ex.input] for ex in train], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ShotSelector:
    """Chooses each variant's shots; holds embeddings for its lifetime (one run).

    Train-split embeddings are computed once per task and kept by
    :func:`train_digest`; input embeddings are kept by text, so variants that
    differ only in ``shots`` share them.

    Args:
        encode: Texts -> normalised embeddings (default: the task's MiniLM
            encoder, loaded on first use, so a run without ``similar`` never
            loads it).
    """

    def __init__(self, encode: Encoder | None = None) -> None:
        self._encode = encode
        self._lock = threading.Lock()
        self._train: dict[str, Vectors] = {}
        self._queries: dict[str, Vectors] = {}
        self.encoded = 0
        """How many texts were embedded (a test's evidence that caching works)."""

    def source(self, task: Task, variant: Variant, seed: int) -> ShotSource:
        """Where ``variant``'s shots on ``task`` come from.

        Raises:
            UsageError: Shots wanted but the task has no train split, or
                ``similar`` without the MiniLM package.
        """
        if variant.spec.shot_selection != "similar" or variant.spec.shots == 0:
            return FixedShots(select_shots(task, variant, seed))
        train = tuple(_train(task, variant))
        encode = self._encode or minilm_encoder(task.encoder)

        def embed_query(text: str) -> Vectors:
            return self.embed_query(text, encode)

        return NearestShots(train, self.train_vectors(train, encode), variant.spec.shots,
                            embed_query)

    def train_vectors(self, train: tuple[Example, ...], encode: Encoder) -> Vectors:
        """The embeddings of ``train``, computed once per digest."""
        key = train_digest(train)
        with self._lock:
            hit = self._train.get(key)
        if hit is not None:
            return hit
        vecs = self._run([ex.input for ex in train], encode)
        with self._lock:
            return self._train.setdefault(key, vecs)

    def embed_query(self, text: str, encode: Encoder) -> Vectors:
        """One input's embedding (cached by text)."""
        with self._lock:
            hit = self._queries.get(text)
        if hit is not None:
            return hit
        vec = self._run([text], encode)[0]
        with self._lock:
            return self._queries.setdefault(text, vec)

    def _run(self, texts: list[str], encode: Encoder) -> Vectors:
        vecs = encode(texts)
        with self._lock:
            self.encoded += len(texts)
        return vecs
