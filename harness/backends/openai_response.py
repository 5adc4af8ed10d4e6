"""Reading OpenAI-compatible response bodies, whatever the server left out.

OpenAI, vLLM, llama.cpp's server and LM Studio differ off the happy path:
``choices`` may be empty, ``text`` or ``message.content`` ``null`` (a
refusal, a content filter, every token spent on reasoning),
``finish_reason`` ``null``, ``usage`` missing or with ``null`` counts,
``logprobs`` ``null`` or with ``null`` entries. The openai client builds
its objects without validation, so every field is read here with a default
and a decision: a sane value, or :class:`MalformedResponse` for the example.
"""

from __future__ import annotations

import json
from typing import Any

from harness.backends.remote import first_line, token_count
from harness.errors import UsageError

EMPTY_FINISH = ("length", "content_filter")
"""Finish reasons that explain a choice without text: an empty answer, not a malformed one."""


class MalformedResponse(ValueError):
    """A response this example cannot use (the backend makes it an ``ExampleError``)."""


def choice_text(resp: Any, chat: bool) -> tuple[str, str]:
    """The first choice's text and finish reason (``stop`` when ``null``).

    A ``null`` text is an empty answer when the server says why: a chat
    ``refusal`` (finish reason ``refusal``), or finish reason ``length`` or
    ``content_filter``.

    Raises:
        MalformedResponse: No choices, or no text and no reason for it.
    """
    choices = getattr(resp, "choices", None) or []
    if not choices:
        raise MalformedResponse("no choices")
    choice = choices[0]
    finish = str(getattr(choice, "finish_reason", None) or "stop")
    if chat:
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if text is None and getattr(message, "refusal", None):
            return "", "refusal"
    else:
        text = getattr(choice, "text", None)
    if isinstance(text, str):
        return text, finish
    if text is None and finish in EMPTY_FINISH:
        return "", finish
    raise MalformedResponse(f"the choice has no text (finish_reason {finish})")


def usage_counts(resp: Any) -> tuple[int | None, int | None]:
    """``usage.prompt_tokens`` and ``usage.completion_tokens``; ``None`` where missing or null."""
    usage = getattr(resp, "usage", None)
    return (token_count(getattr(usage, "prompt_tokens", None)),
            token_count(getattr(usage, "completion_tokens", None)))


def continuation_logprob(resp: Any, prompt_chars: int, sent_chars: int
                         ) -> tuple[float, int, int]:
    """Sum logprobs of echoed tokens reaching past ``prompt_chars``; count both sides.

    Tokens starting at or after ``sent_chars`` were generated, not echoed.
    Returns a count of 0 when the response has no logprobs, and -1 when a
    label token's logprob is ``null`` (dropping it would favour that label).
    """
    choices = getattr(resp, "choices", None) or []
    lp = getattr(choices[0], "logprobs", None) if choices else None
    values = getattr(lp, "token_logprobs", None)
    offsets = getattr(lp, "text_offset", None)
    if not values or offsets is None:
        return 0.0, 0, 0
    total, n, before = 0.0, 0, 0
    tokens = getattr(lp, "tokens", None) or [""] * len(values)
    for offset, token, value in zip(offsets, tokens, values, strict=False):
        if offset >= sent_chars:
            break
        if offset + len(token or "") > prompt_chars:
            if value is None:
                return 0.0, -1, before
            total += float(value)
            n += 1
        else:
            before += 1
    return total, n, before


def json_object(text: str) -> dict[str, Any]:
    """Parse the ``extra_body`` option.

    Raises:
        UsageError: Not a JSON object.
    """
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"openai backend: extra_body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UsageError("openai backend: extra_body must be a JSON object",
                         hint='e.g. extra_body={"repeat_penalty": 1.0}')
    return value


def root_cause(exc: BaseException) -> str:
    """The innermost cause's message (connection refused, TLS failure, timeout)."""
    seen: BaseException = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or nxt is seen:
            break
        seen = nxt
    text = first_line(str(seen)) or type(seen).__name__
    return text if seen is exc else f"{type(seen).__name__}: {text}"


def retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After`` header given in seconds, when present."""
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
