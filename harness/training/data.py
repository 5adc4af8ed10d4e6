"""Training data: prompts and answers, their tokens, a digest, padded batches.

Each example becomes a prompt (the template rendered with its input, exactly
as a ``lora`` variant renders it at evaluation time) and an answer: the
reference target, preceded by a space when the prompt does not end in one
(as label scoring does) and followed by a newline (the default stop) or, for
multi-line targets, the tokenizer's EOS. Prompt and answer are tokenized
separately, again as label scoring does, so training sees the exact token
sequences the evaluation scores.

Batches are padding-aware: each epoch shuffles the examples with a seeded
RNG, sorts windows of them by length so batches hold similar lengths, pads
on the right and records where the answer tokens are, so the loss needs
logits only there.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import UsageError
from harness.tasks import Example, Task
from harness.template import render_template, task_names

if TYPE_CHECKING:
    import torch

Tokenize = Callable[[str, bool], list[int]]
"""``(text, add_bos) -> token ids``; the model's tokenizer."""

_SORT_WINDOW = 16  # batches per window that are sorted by length together


@dataclass(frozen=True)
class Pair:
    """One example as text: the rendered prompt and the answer to learn."""

    id: str
    prompt: str
    answer: str


@dataclass(frozen=True)
class Encoded:
    """One example as token ids."""

    id: str
    prompt_ids: tuple[int, ...]
    answer_ids: tuple[int, ...]

    @property
    def length(self) -> int:
        """Total tokens (prompt + answer)."""
        return len(self.prompt_ids) + len(self.answer_ids)


@dataclass(frozen=True)
class Batch:
    """Right-padded token ids plus the positions whose next token is an answer token.

    Attributes:
        input_ids: ``[B, T]`` token ids (padding after each sequence).
        attention_mask: ``[B, T]`` 1 for real tokens, 0 for padding.
        rows: ``[N]`` batch row of each answer token.
        cols: ``[N]`` position of the hidden state that predicts it (its index - 1).
        targets: ``[N]`` the answer token ids.
        tokens: Real (non-padding) tokens in the batch.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    targets: torch.Tensor
    tokens: int

    def to(self, device: str) -> Batch:
        """The same batch on ``device``."""
        return Batch(self.input_ids.to(device), self.attention_mask.to(device),
                     self.rows.to(device), self.cols.to(device), self.targets.to(device),
                     self.tokens)


def render_pairs(task: Task, split: str, template: str) -> list[Pair]:
    """Render every example of ``split`` as (prompt, answer) text.

    Raises:
        UsageError: The template is broken or uses a name it is not given.
    """
    where = Path("<training template>").resolve()  # as a variant file's template path reads
    names = task_names(task)
    pairs = []
    for ex in task.split(split):
        prompt = render_template(template, {**names, "shots": (), "input": ex.input,
                                            "passages": []}, where, None)
        pairs.append(Pair(ex.id, prompt, answer_text(prompt, ex)))
    return pairs


def stable_subset(pairs: Sequence[Pair], n: int | None, seed: int) -> list[Pair]:
    """At most ``n`` pairs, chosen by a seeded hash of their ids, in file order.

    Stable: adding examples to the file never swaps out the ones already chosen
    unless a new one ranks above them.
    """
    if n is None or n >= len(pairs):
        return list(pairs)

    def rank(pair: Pair) -> str:
        return hashlib.sha256(f"{seed}:{pair.id}".encode()).hexdigest()

    keep = {p.id for p in sorted(pairs, key=rank)[:n]}
    return [p for p in pairs if p.id in keep]


def answer_text(prompt: str, example: Example) -> str:
    """The answer as it follows the prompt: a space first unless the prompt ends in one.

    >>> answer_text("Answer:", Example("a", "x", "ZORP", "train"))
    ' ZORP'
    """
    sep = "" if not prompt or prompt[-1].isspace() else " "
    return sep + example.target


def encode_pairs(pairs: Sequence[Pair], tokenize: Tokenize, eos_id: int | None,
                 max_length: int) -> list[Encoded]:
    """Tokenize prompts (with BOS) and answers (without), then fit ``max_length``.

    A single-line answer ends with a newline token, a multi-line one with EOS.
    Too-long examples lose prompt tokens right after BOS (the end of the
    prompt, next to the answer, matters most), then answer tokens at the end.
    """
    newline = tuple(tokenize("\n", False))
    out = []
    for pair in pairs:
        prompt = tuple(tokenize(pair.prompt, True))
        if not prompt:
            raise UsageError(f"example {pair.id!r} renders to an empty prompt",
                             hint="the template must produce text (or the tokenizer a BOS)")
        answer = tuple(tokenize(pair.answer, False))
        if "\n" in pair.answer.strip("\n") and eos_id is not None:
            answer += (eos_id,)
        else:
            answer += newline
        out.append(_fit(pair.id, prompt, answer, max_length))
    return out


def _fit(ex_id: str, prompt: tuple[int, ...], answer: tuple[int, ...],
         max_length: int) -> Encoded:
    answer = answer[: max(1, max_length - 2)]
    room = max_length - len(answer)
    if len(prompt) > room:
        keep = max(room - 1, 1)
        prompt = prompt[:1] + prompt[len(prompt) - keep:]
    return Encoded(ex_id, prompt, answer)


def data_digest(train: Sequence[Pair], dev: Sequence[Pair], template: str) -> str:
    """SHA-256 of what training sees: the template and every (id, prompt, answer).

    Independent of example order; any change of text, label or template changes it.
    """
    h = hashlib.sha256(template.encode("utf-8"))
    for split, pairs in (("train", train), ("dev", dev)):
        for pair in sorted(pairs, key=lambda p: p.id):
            h.update(json.dumps([split, pair.id, pair.prompt, pair.answer]).encode("utf-8"))
    return h.hexdigest()


def epoch_order(examples: Sequence[Encoded], batch_size: int, seed: int, epoch: int
                ) -> list[list[Encoded]]:
    """Group examples into batches of similar length, in a seeded random order.

    The examples are shuffled, windows of ``16 * batch_size`` are sorted by
    length and cut into batches, and the batches are shuffled, all by a
    ``random.Random`` seeded from (seed, epoch): the same seed gives the same
    batches on every machine.
    """
    rng = random.Random(f"tunegate:{seed}:{epoch}")
    items = list(examples)
    rng.shuffle(items)
    window = _SORT_WINDOW * batch_size
    batches: list[list[Encoded]] = []
    for start in range(0, len(items), window):
        chunk = sorted(items[start:start + window], key=lambda e: e.length)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def eval_order(examples: Sequence[Encoded], batch_size: int) -> list[list[Encoded]]:
    """Batches for loss evaluation: sorted by length, no shuffling."""
    items = sorted(examples, key=lambda e: (e.length, e.id))
    return [items[i:i + batch_size] for i in range(0, len(items), batch_size)]


def collate(examples: Sequence[Encoded], pad_id: int) -> Batch:
    """Pad a list of examples on the right and index their answer tokens."""
    import torch

    width = max(e.length for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    rows: list[int] = []
    cols: list[int] = []
    targets: list[int] = []
    for row, ex in enumerate(examples):
        seq = ex.prompt_ids + ex.answer_ids
        ids[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = 1
        start = len(ex.prompt_ids)
        for j, tok in enumerate(ex.answer_ids):
            rows.append(row)
            cols.append(start + j - 1)
            targets.append(tok)
    return Batch(ids, mask, torch.tensor(rows, dtype=torch.long),
                 torch.tensor(cols, dtype=torch.long), torch.tensor(targets, dtype=torch.long),
                 sum(e.length for e in examples))
