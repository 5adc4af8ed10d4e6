"""The context window of a local model: its size as a spec option, and the check per request.

A local backend (``embedded``, ``hf:``, ``fake:``) takes its context size as
a model option, ``embedded?n_ctx=8192`` or ``hf:PATH?n_ctx=8192``, up to the
length the model was trained for (``<arch>.context_length`` in a GGUF
header, ``max_position_embeddings`` in a transformers ``config.json``). A
request that does not fit is an :class:`~harness.errors.ExampleError`: the
runner records it against its example and goes on. ``tunegate estimate``
uses :func:`needed_tokens`, the same count, to list such examples before a run.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl

from harness.backends.base import GenRequest, ScoreRequest
from harness.errors import ExampleError, UsageError

MIN_N_CTX = 16
"""The smallest context accepted: below it no prompt and answer fit."""


def spec_options(query: str, allowed: tuple[str, ...], backend: str) -> dict[str, str]:
    """The ``key=value`` options after ``?`` in a local model spec.

    Raises:
        UsageError: A key that is not in ``allowed``.
    """
    out = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise UsageError(f"{backend}: unknown option {key!r} in model spec",
                             hint=f"valid: {', '.join(allowed)}")
        out[key] = value
    return out


def n_ctx_option(text: str | None, default: int, supported: int | None, backend: str) -> int:
    """The context size from the spec's ``n_ctx`` option, else ``default``.

    Args:
        text: The option's value as written, or ``None`` when not given.
        default: The size used without the option (capped at ``supported``).
        supported: The longest context the model was trained for, when known.
        backend: The spec prefix, for messages.

    Raises:
        UsageError: Not a whole number, below :data:`MIN_N_CTX`, or more than
            the model supports.
    """
    if text is None:
        return min(default, supported) if supported else default
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"{backend}: n_ctx={text!r} is not a whole number of tokens",
                         hint="e.g. n_ctx=8192") from None
    if n < MIN_N_CTX:
        raise UsageError(f"{backend}: n_ctx={n} is too small", hint=f"at least {MIN_N_CTX}")
    if supported is not None and n > supported:
        raise UsageError(f"{backend}: n_ctx={n} is more than this model supports "
                         f"({supported} tokens)", hint=f"use n_ctx={supported} or less")
    return n


def needed_tokens(request: GenRequest | ScoreRequest, count: Callable[[str], int]
                  ) -> tuple[int, str]:
    """Tokens a request occupies in a local model's context, and what they are.

    A generation needs BOS + prompt + ``max_tokens``; label scoring needs
    BOS + prompt + the longest label. ``count`` is the backend's tokenizer
    (without BOS), so the runner's check and ``estimate`` agree.
    """
    prompt = count(request.prompt) + 1
    if isinstance(request, GenRequest):
        return prompt + request.max_tokens, "prompt + max_tokens"
    return prompt + max((count(c) for c in request.continuations), default=0), "prompt + label"


@dataclass(frozen=True)
class ContextWindow:
    """A local model's context size, the most it supports, and the spec to raise it.

    Attributes:
        n_ctx: Tokens of context the backend was started with.
        supported: The model's trained context length, when known.
        spec: The model spec without options, for the hint (``embedded``).
    """

    n_ctx: int
    supported: int | None = None
    spec: str = "embedded"

    def check(self, request: GenRequest | ScoreRequest, count: Callable[[str], int]) -> None:
        """Refuse a request that does not fit.

        Raises:
            ExampleError: It needs more than ``n_ctx`` tokens.
        """
        n, what = needed_tokens(request, count)
        if n <= self.n_ctx:
            return
        raise ExampleError(f"{what} is {n} tokens, more than the context ({self.n_ctx})",
                           hint=self.hint(n))

    def hint(self, n: int) -> str:
        """How to make ``n`` tokens fit: a larger ``n_ctx``, or a shorter input."""
        if self.supported is not None and n > self.supported:
            return f"longer than this model supports ({self.supported}): shorten the input"
        size = max(MIN_N_CTX, 1 << (n - 1).bit_length())
        if self.supported is not None:
            size = min(size, self.supported)
        sep = "&" if "?" in self.spec else "?"
        return f"raise the context: {self.spec}{sep}n_ctx={size}, or shorten the input"


# GGUF value types (ggml docs/gguf.md): scalar formats, 8 = string, 9 = array.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


def _read(fh: BinaryIO, fmt: str) -> int | float | bool:
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    value: int | float | bool = struct.unpack(fmt, data)[0]
    return value


def _read_str(fh: BinaryIO) -> str:
    n = int(_read(fh, "<Q"))
    data = fh.read(n)
    if len(data) != n:
        raise ValueError("truncated GGUF header")
    return data.decode("utf-8")


def _read_value(fh: BinaryIO, vtype: int) -> int | float | bool | str | None:
    """A scalar or string value; an array is skipped (``None``)."""
    if vtype in _SCALAR:
        return _read(fh, _SCALAR[vtype])
    if vtype == _STRING:
        return _read_str(fh)
    if vtype != _ARRAY:
        raise ValueError(f"unknown GGUF value type {vtype}")
    etype, count = int(_read(fh, "<I")), int(_read(fh, "<Q"))
    if etype in _SCALAR:
        fh.seek(struct.calcsize(_SCALAR[etype]) * count, 1)
    else:
        for _ in range(count):
            _read_value(fh, etype)
    return None


def gguf_context_length(path: Path) -> int | None:
    """``<general.architecture>.context_length`` from a GGUF file's header, if present.

    Reads the key-value section only (the tensors are never touched); stops
    as soon as both keys are seen. ``None`` for anything that is not a
    readable GGUF v2+ header. Format: ggml ``docs/gguf.md``.
    """
    try:
        with path.open("rb") as fh:
            if fh.read(4) != b"GGUF" or int(_read(fh, "<I")) < 2:
                return None
            _read(fh, "<Q")  # tensor count
            arch, lengths = None, {}
            for _ in range(int(_read(fh, "<Q"))):
                key = _read_str(fh)
                value = _read_value(fh, int(_read(fh, "<I")))
                if key == "general.architecture" and isinstance(value, str):
                    arch = value
                elif key.endswith(".context_length") and isinstance(value, int):
                    lengths[key] = value
                if arch is not None and f"{arch}.context_length" in lengths:
                    return lengths[f"{arch}.context_length"]
    except (OSError, ValueError, struct.error):
        return None
    return None


def hf_context_length(model_dir: Path) -> int | None:
    """``max_position_embeddings`` from a transformers ``config.json`` (or its ``text_config``)."""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    for part in (config, config.get("text_config")):
        value = part.get("max_position_embeddings") if isinstance(part, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
