"""An LLM judge for tone tasks: a rubric rated 1..scale by any backend.

The judge's full prompt and raw answer are stored with the output. An
answer that holds no rating in range is recorded as invalid and counted
by the ``judge_rubric`` scorer, never turned into a zero.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from harness.backends.base import GenRequest
from harness.taskspec import JudgeSpec

if TYPE_CHECKING:
    from harness.client import CachedModel, Usage
    from harness.tasks import Example

JUDGE_TEMPLATE = (
    "You are grading a rewrite.\n"
    "Rubric: {rubric}\n\n"
    "Original: {source}\n"
    "Rewrite: {output}\n\n"
    "Answer with one whole number from 1 (fails the rubric) to {scale} (fully meets it).\n"
    "Rating:")


def judge_prompt(spec: JudgeSpec, source: str, output: str) -> str:
    """The exact prompt the judge sees."""
    return JUDGE_TEMPLATE.format(rubric=spec.rubric.strip(), source=source, output=output,
                                 scale=spec.scale)


def parse_rating(text: str, scale: int) -> int | None:
    """The first whole number in the answer when it is within 1..scale.

    >>> parse_rating(" 4/5", 5), parse_rating("great", 5), parse_rating("7", 5)
    (4, None, None)
    """
    m = re.search(r"\d+", text)
    if m is None:
        return None
    value = int(m.group())
    return value if 1 <= value <= scale else None


def ask_judge(model: CachedModel, spec: JudgeSpec, example: Example, output: str
              ) -> tuple[dict[str, Any], Usage]:
    """Ask the judge about one output; the verdict records prompt, answer and rating."""
    prompt = judge_prompt(spec, example.input, output)
    resp, usage = model.generate(GenRequest(prompt, max_tokens=spec.max_tokens,
                                            stop=("\n",), temperature=0.0))
    rating = parse_rating(resp.text, spec.scale)
    return {"model": str(model.identity.get("model") or ""), "prompt": prompt,
            "raw": resp.text, "rating": rating, "scale": spec.scale,
            "invalid": rating is None}, usage
