"""Label math for classification: label log-likelihoods, calibration and strict matching.

Label scoring takes the log-likelihood of every label's full token sequence
after the prompt, so the answer is always a valid label. Contextual
calibration (Zhao et al., 2021, "Calibrate Before Use") divides each label's
probability by its mean probability on content-free inputs. Without
logprobs a generated answer is matched strictly against the labels
(anything else is an invalid, i.e. wrong, answer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from harness.backends.base import ScoreRequest
from harness.client import CachedModel, Usage
from harness.tasks import ClassificationTask, Task
from harness.variants.prompt import CONTENT_FREE


def label_continuations(prompt: str, labels: Sequence[str]) -> tuple[str, ...]:
    """Each label as a continuation of ``prompt`` (a space unless it ends in one)."""
    sep = "" if not prompt or prompt[-1].isspace() else " "
    return tuple(sep + lab for lab in labels)


def log_softmax(values: Sequence[float]) -> NDArray[np.float64]:
    """Log-softmax of a vector, computed stably (max subtracted first)."""
    arr = np.asarray(values, dtype=np.float64)
    m = float(arr.max())
    out: NDArray[np.float64] = arr - (m + float(np.log(np.exp(arr - m).sum())))
    return out


def label_logprobs(model: CachedModel, prompt: str, labels: Sequence[str],
                   system: str = "") -> tuple[dict[str, float], Usage]:
    """Summed log-probability of each label's tokens after ``prompt``.

    ``system`` is a system prompt for a chat-template backend (empty otherwise).
    """
    resp, usage = model.score(ScoreRequest(prompt, label_continuations(prompt, labels),
                                           system=system))
    return dict(zip(labels, resp.logprobs, strict=True)), usage


def task_labels(task: Task) -> list[str]:
    """The labels of a classification task.

    Raises:
        TypeError: Not a classification task.
    """
    if not isinstance(task.spec, ClassificationTask):
        raise TypeError(f"task {task.name!r} is not a classification task")
    return list(task.spec.labels)


def calibration_prior(model: CachedModel, labels: Sequence[str],
                      frame: Callable[[str], tuple[str, str]]) -> dict[str, float]:
    """Mean label distribution (log) on the content-free inputs, for calibration.

    Args:
        model: The model.
        labels: The label set.
        frame: A content-free input -> (prompt, system prompt) as the run sends it.
    """
    probs = []
    for text in CONTENT_FREE:
        prompt, system = frame(text)
        lps, _ = label_logprobs(model, prompt, labels, system)
        probs.append(np.exp(log_softmax([lps[lab] for lab in labels])))
    mean = np.mean(probs, axis=0)
    # A prior that underflows to 0 would make its label always win: floor it.
    prior = np.log(np.maximum(mean / mean.sum(), 1e-30))
    return {lab: float(p) for lab, p in zip(labels, prior, strict=True)}


def max_label_tokens(model: CachedModel, labels: Sequence[str]) -> int:
    """Token budget for a generated label: the longest label plus slack."""
    return max(model.backend.count_tokens(" " + lab) for lab in labels) + 2
