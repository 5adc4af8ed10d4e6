"""Where model files are cached, and their content digests.

The lowest layer of model-file management: :mod:`harness.modelfiles` (the
embedded GGUF and its re-exports), :mod:`harness.training.unpack` (its
Hugging Face copy) and :mod:`harness.training.llamacpp` (the converter source)
all keep their files under :func:`cache_dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path


def cache_dir() -> Path:
    """The tunegate model cache (``$TUNEGATE_CACHE`` or ``~/.cache/tunegate``)."""
    return Path(os.environ.get("TUNEGATE_CACHE", Path.home() / ".cache" / "tunegate"))


def file_digest(path: Path) -> str:
    """SHA-256 of a file, memoised in a sidecar keyed by size and mtime."""
    st = path.stat()
    side = path.with_name(path.name + ".sha256.json")
    stamp = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    try:
        saved = json.loads(side.read_text())
        if saved.get("stamp") == stamp:
            return str(saved["sha256"])
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with contextlib.suppress(OSError):
        side.write_text(json.dumps({"stamp": stamp, "sha256": digest}))
    return digest
