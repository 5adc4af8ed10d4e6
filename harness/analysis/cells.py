"""The records of one run grouped by task, variant (on its model) and split, for analysis.

:func:`collect` reads each record's primary score (the task's scorer) and
keeps what the analysis needs per cell: example ids, scores, gold and
predicted labels, tokens, every score map and output, and failures.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.analysis.metric import Samples
from harness.analysis.stats import clustered
from harness.store import Record

__all__ = ["Cell", "collect", "scores_by_id", "seeded_rng"]


@dataclass
class Cell:
    """All records of one (task, variant-on-model) in one split."""

    ids: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)
    pred: list[str | None] = field(default_factory=list)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    score_maps: list[Mapping[str, Any]] = field(default_factory=list)
    outputs: list[Mapping[str, Any]] = field(default_factory=list)
    errors: int = 0
    unscored_reason: str = ""

    def samples(self, only: set[str] | None = None) -> Samples:
        """The cell's samples (those of the ``only`` example ids, when given)."""
        keep = [k for k, i in enumerate(self.ids) if only is None or i in only]
        return Samples([self.ids[k] for k in keep], [self.scores[k] for k in keep],
                       [self.gold[k] for k in keep], [self.pred[k] for k in keep])


def seeded_rng(seed: int, *names: str) -> np.random.Generator:
    """A generator seeded by the run's seed and ``names`` (the same names, the same draws)."""
    h = hashlib.sha256(":".join([str(seed), *names]).encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "big"))


def collect(records: Iterable[Record], multi_model: bool, primary: Mapping[str, str]
            ) -> dict[str, dict[str, dict[str, Cell]]]:
    """Cells by task, variant (``variant@model`` when ``multi_model``) and split.

    ``primary`` maps a task to its primary scorer; a failed record only counts.
    """
    cells: dict[str, dict[str, dict[str, Cell]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(Cell)))
    for rec in records:
        name = f"{rec.variant}@{rec.model}" if multi_model else rec.variant
        cell = cells[rec.task][name][rec.split]
        if rec.error is not None:
            cell.errors += 1
            continue
        score_map = rec.scores.get(primary.get(rec.task, "label_accuracy"), {})
        value = score_map.get("value")
        if value is None and not cell.unscored_reason:
            cell.unscored_reason = str(score_map.get("explanation") or "not scored")
        cell.ids.append(rec.example_id)
        cell.scores.append(float("nan") if value is None else float(value))
        cell.score_maps.append(rec.scores)
        cell.outputs.append(rec.output)
        cell.gold.append(rec.target)
        cell.pred.append(rec.output.get("prediction"))
        cell.prompt_tokens.append(rec.prompt_tokens)
        cell.completion_tokens.append(rec.completion_tokens)
    return cells


def scores_by_id(cell: Cell) -> dict[str, float]:
    """Each example's mean score over its samples, by example id."""
    ids, means = clustered(cell.ids, cell.scores)
    return dict(zip(ids, (float(x) for x in means), strict=True))
