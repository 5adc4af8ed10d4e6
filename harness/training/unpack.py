"""Unpack a GGUF model into a Hugging Face directory, once, atomically.

transformers reads a GGUF with ``gguf_file=`` and dequantizes it (slowly:
about a minute and a half for gemma-3-270m on two cores), so the fp32
result is saved once under the model cache and reused. The directory is
written under a temporary name and renamed into place at the end, with a
marker recording the source GGUF's SHA-256: a killed unpack leaves only a
hidden temporary directory (removed by the next run), never a half model.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from harness.errors import UsageError
from harness.modelcache import cache_dir
from harness.training.options import require_train_deps

log = logging.getLogger(__name__)
UNPACKED_NAME = "gemma-3-270m-hf"
MARKER = "tunegate-unpack.json"


def unpacked_dir(gguf_path: Path, digest: str, embedded: bool) -> Path:
    """Where the HF copy of a GGUF lives in the cache.

    The embedded model gets ``gemma-3-270m-hf``; any other GGUF a name made
    of its file stem and digest, so two models never share a directory.
    """
    if embedded:
        return cache_dir() / UNPACKED_NAME
    return cache_dir() / f"{gguf_path.stem}-{digest[:12]}-hf"


def is_unpacked(dest: Path, digest: str) -> bool:
    """Whether ``dest`` is a complete unpack of the GGUF with ``digest``."""
    try:
        marker = json.loads((dest / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("sha256") == digest


def unpack_gguf(gguf_path: Path, digest: str, dest: Path,
                progress: Callable[[str], None] | None = None,
                tokenizer_dir: Path | None = None) -> Path:
    """Return ``dest``, first unpacking ``gguf_path`` into it unless already done.

    ``tokenizer_dir``: take the tokenizer from this HF directory instead of the
    GGUF (for a re-export of a model whose tokenizer transformers cannot read
    back from the GGUF, such as the embedded model's ``q8_0``).

    Raises:
        UsageError: The training extra is missing or the cache is not writable.
    """
    if is_unpacked(dest, digest):
        return dest
    require_train_deps()
    if progress is not None:
        progress(f"unpacking {gguf_path.name} into {dest} (once; about 2 minutes)")
    prefix = f".{dest.name}.tmp-"
    tmp = dest.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(dest.parent, prefix)
        _save_hf_copy(gguf_path, tmp, tokenizer_dir)
        (tmp / MARKER).write_text(json.dumps(
            {"source": str(gguf_path), "sha256": digest}, indent=2), encoding="utf-8")
        _swap_into_place(tmp, dest, digest)
    except OSError as exc:
        raise UsageError(f"cannot unpack the model into {dest.parent}: {exc}",
                         hint="set TUNEGATE_CACHE to a writable directory with 2 GB free"
                         ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _save_hf_copy(gguf_path: Path, out: Path, tokenizer_dir: Path | None = None) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = (AutoTokenizer.from_pretrained(str(tokenizer_dir)) if tokenizer_dir
                     else AutoTokenizer.from_pretrained(folder, gguf_file=name))
        model = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, attn_implementation="eager", **dtype_kwarg(torch.float32))
    except Exception as exc:  # noqa: BLE001 - transformers raises anything; say which file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"transformers cannot read this GGUF back: {first}", gguf_path,
                         hint="train on hf:PATH (a Hugging Face directory) instead") from None
    # The GGUF "quantizer" refuses to save; the weights are already dequantized.
    setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def dtype_kwarg(dtype: object) -> dict[str, object]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before."""
    import transformers

    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def _swap_into_place(tmp: Path, dest: Path, digest: str) -> None:
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(dest, old)
    try:
        os.replace(tmp, dest)
    except OSError:
        # Another process finished the same unpack first: use theirs.
        if not is_unpacked(dest, digest):
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale(parent: Path, prefix: str) -> None:
    """Delete ``parent/prefix<pid>-*`` directories whose process is gone."""
    for path in parent.glob(prefix + "*"):
        pid_text = path.name[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            log.info("removing %s, left by an interrupted run", path)
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True

