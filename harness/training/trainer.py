"""The LoRA training loop, with logits computed only where the loss needs them.

A causal LM's vocabulary projection dominates its cost when the vocabulary
is large (gemma-3: 262k tokens x 640 dims, more weights than the rest of the
270M model). The loss here is on answer tokens only, so :func:`answer_loss`
runs the model body once, gathers the hidden states that predict answer
tokens and applies the output head to those rows alone; the result equals
the usual full-logits masked cross-entropy (:func:`full_logits_loss`) up to
float rounding, at a fraction of the cost.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.training.data import Batch, Encoded, collate, epoch_order, eval_order
from harness.training.options import TrainOptions

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class FitResult:
    """What the loop measured.

    Attributes:
        train_loss: Token-weighted mean answer loss per epoch.
        dev_loss: The same on dev, per epoch (empty without dev examples).
        epoch_seconds: Wall time of each epoch's training steps.
        tokens_trained: Real tokens through the model over all steps.
        answer_tokens: Answer tokens (those with a loss) over all steps.
        steps: Optimizer steps taken.
        best_epoch: The epoch whose weights were kept (1-based).
        stopped_early: Whether dev loss ended training before ``epochs``.
    """

    train_loss: tuple[float, ...]
    dev_loss: tuple[float, ...]
    epoch_seconds: tuple[float, ...]
    tokens_trained: int
    answer_tokens: int
    steps: int
    best_epoch: int
    stopped_early: bool


def split_model(model: Any) -> tuple[Any, Any, float | None]:
    """The body (hidden states), output head and logit soft-cap of a causal LM.

    Works on a plain ``*ForCausalLM`` and on a peft model wrapping one; LoRA
    layers live inside the body, so calling the body applies them.
    """
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = lm.base_model
    head = lm.get_output_embeddings()
    cap = getattr(lm.config, "final_logit_softcapping", None)
    return body, head, float(cap) if cap else None


def answer_logits(model: Any, batch: Batch) -> torch.Tensor:
    """Logits (fp32) at the positions that predict answer tokens: ``[N, vocab]``."""
    import torch

    body, head, cap = split_model(model)
    hidden = body(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                  use_cache=False).last_hidden_state
    picked = hidden[batch.rows, batch.cols]
    logits: torch.Tensor = head(picked).float()
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    return logits


def answer_loss(model: Any, batch: Batch) -> torch.Tensor:
    """Mean cross-entropy over the batch's answer tokens, from answer-position logits only."""
    import torch.nn.functional as F

    return F.cross_entropy(answer_logits(model, batch), batch.targets)


def full_logits_loss(model: Any, batch: Batch) -> torch.Tensor:
    """The reference: full ``[B, T, vocab]`` logits, labels masked to the answer tokens."""
    import torch
    import torch.nn.functional as F

    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                   use_cache=False).logits.float()
    labels = torch.full_like(batch.input_ids, -100)
    labels[batch.rows, batch.cols + 1] = batch.targets
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                           labels[:, 1:].reshape(-1), ignore_index=-100)


def add_lora(model: Any, options: TrainOptions) -> Any:
    """Wrap ``model`` with fp32 LoRA matrices on ``options.target_modules``.

    The base stays frozen in its dtype; LoRA initialisation draws from
    torch's RNG, so seed it first for a reproducible run.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=0.0,
                        target_modules=list(options.target_modules), bias="none",
                        task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config, autocast_adapter_dtype=True)
    for param in peft_model.parameters():
        if param.requires_grad:
            param.data = param.data.float()
    return peft_model


def mean_loss(model: Any, examples: Sequence[Encoded], batch_size: int, pad_id: int,
              device: str) -> float:
    """Token-weighted mean answer loss over ``examples`` (no gradients)."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for group in eval_order(examples, batch_size):
            batch = collate(group, pad_id).to(device)
            n = int(batch.targets.numel())
            total += float(answer_loss(model, batch)) * n
            count += n
    return total / max(count, 1)


def _train_epoch(model: Any, optimizer: Any, batches: list[list[Encoded]], pad_id: int,
                 device: str) -> tuple[float, int, int]:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    total, answers, tokens = 0.0, 0, 0
    for group in batches:
        batch = collate(group, pad_id).to(device)
        loss = answer_loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        n = int(batch.targets.numel())
        total += float(loss.detach()) * n
        answers += n
        tokens += batch.tokens
    return total / max(answers, 1), answers, tokens


def fit(model: Any, train: Sequence[Encoded], dev: Sequence[Encoded], options: TrainOptions,
        pad_id: int, device: str, progress: Progress | None = None) -> FitResult:
    """Train the trainable (LoRA) parameters of ``model`` on ``train``.

    Deterministic for a seed on CPU: the data order comes from a seeded
    ``random.Random`` and torch computes the same sums in the same order.
    With ``options.early_stop_on_dev`` (and dev examples) training stops at
    the first epoch whose dev loss does not improve, keeping the best epoch.
    """
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=options.lr, weight_decay=0.0)
    model.train()
    train_loss: list[float] = []
    dev_loss: list[float] = []
    seconds: list[float] = []
    tokens = answers = steps = 0
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    stopped = False
    for epoch in range(1, options.epochs + 1):
        start = time.perf_counter()
        batches = epoch_order(train, options.batch_size, options.seed, epoch)
        loss, n_ans, n_tok = _train_epoch(model, optimizer, batches, pad_id, device)
        seconds.append(time.perf_counter() - start)
        train_loss.append(loss)
        answers, tokens, steps = answers + n_ans, tokens + n_tok, steps + len(batches)
        line = f"epoch {epoch}/{options.epochs}: train loss {loss:.4f}"
        if dev:
            dev_loss.append(mean_loss(model, dev, options.batch_size, pad_id, device))
            line += f", dev loss {dev_loss[-1]:.4f}"
        line += f" ({seconds[-1]:.1f} s)"
        if progress is not None:
            progress(line)
        else:
            log.info(line)
        if options.early_stop_on_dev and dev:
            if best is None or dev_loss[-1] < best[0]:
                best = (dev_loss[-1], epoch, _trainable_state(model))
            else:
                stopped = epoch < options.epochs
                break
    best_epoch = len(train_loss)
    if best is not None and best[1] != best_epoch:
        _restore(model, best[2])
        best_epoch = best[1]
    model.eval()
    return FitResult(tuple(train_loss), tuple(dev_loss), tuple(seconds), tokens, answers,
                     steps, best_epoch, stopped)


def _trainable_state(model: Any) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()
            if p.requires_grad}


def _restore(model: Any, state: dict[str, torch.Tensor]) -> None:
    import torch

    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in state:
                p.copy_(state[name])


def peak_memory_bytes(device: str) -> int:
    """Peak CUDA memory allocated on ``cuda``; else this process's peak RSS."""
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_allocated())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
