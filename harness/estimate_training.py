"""How long the adapters a run must train first will take, before anything runs.

A ``lora`` variant with ``train:`` trains its adapter on the spot unless the
store already has it (same task data, variant and base weights). The time
is estimated from earlier trainings of the same base (their
``training.json``: seconds per epoch per 100 examples, and the fixed cost
outside the epochs: loading, export, the GGUF check), median over them; with
none, from :data:`DEFAULT_RATE` for the embedded model, and otherwise not at all.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.base import ModelSpec
from harness.tasks import Task
from harness.variants.lora import adapter_dir, base_of, resolve_adapter
from harness.variants.prompt import Variant

__all__ = ["DEFAULT_RATE", "Rate", "TrainingPlan", "measured_rate", "plan_adapter"]

_TRAINABLE = ("embedded", "hf")


@dataclass(frozen=True)
class Rate:
    """Training speed: seconds per epoch per 100 train examples, plus a fixed cost.

    Attributes:
        per_epoch_per_100: Seconds one epoch takes for 100 examples.
        fixed_s: Seconds outside the epochs (model load, export, GGUF check).
        basis: Where the numbers come from, in words.
    """

    per_epoch_per_100: float
    fixed_s: float
    basis: str

    def seconds(self, examples: int, epochs: int) -> float:
        """Estimated wall seconds of one training."""
        return self.fixed_s + epochs * examples / 100 * self.per_epoch_per_100


DEFAULT_RATE = Rate(7.5, 40.0, "default for the embedded model on a 2-core CPU: 7.5 s per "
                    "epoch per 100 examples (benchmarks/bench_training.py) and 40 s fixed; no "
                    "earlier training of this base in the store")
"""Measured on the 2-core development machine (bf16 CPU); an fp32-only CPU is about 2x slower."""


@dataclass(frozen=True)
class TrainingPlan:
    """One adapter a run would train before its requests.

    Attributes:
        task, variant, model: Which (the variant's name, the run's model spec).
        out_dir: Where the adapter will be written.
        examples: Train examples it trains on (after ``max_examples``).
        epochs: Epochs (an upper bound with early stopping).
        seconds: Estimated wall seconds, or None when no rate is known.
        basis: How the time was estimated.
    """

    task: str
    variant: str
    model: str
    out_dir: Path
    examples: int
    epochs: int
    seconds: float | None
    basis: str


def _records(roots: Iterable[Path]) -> list[dict[str, Any]]:
    out = []
    for root in roots:
        for path in sorted(root.glob("*/training.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict):
                out.append(data)
    return out


def measured_rate(base_digest: str, roots: Iterable[Path]) -> Rate | None:
    """The median rate of earlier trainings of this base (``*/training.json`` under ``roots``).

    Returns:
        None when no record of a training of this base has the numbers.
    """
    per_100, fixed = [], []
    for rec in _records(roots):
        metrics = rec.get("metrics") or {}
        if (rec.get("base") or {}).get("sha256") != base_digest:
            continue
        rate, wall = metrics.get("seconds_per_epoch_per_100_examples"), metrics.get("wall_s")
        if not isinstance(rate, int | float) or not isinstance(wall, int | float):
            continue
        per_100.append(float(rate))
        fixed.append(max(0.0, float(wall) - sum(metrics.get("epoch_seconds") or [])))
    if not per_100:
        return None
    return Rate(statistics.median(per_100), statistics.median(fixed),
                f"measured: median of {len(per_100)} earlier training"
                f"{'' if len(per_100) == 1 else 's'} of this base")


def plan_adapter(task: Task, variant: Variant, model: ModelSpec, store_root: Path
                 ) -> tuple[ModelSpec, TrainingPlan | None]:
    """The model spec a variant's requests go to, and the training it needs first (if any).

    Nothing is trained: an adapter the store already has (or a given one) is
    resolved to its spec, so its cached responses are counted; one that must
    be trained gives a :class:`TrainingPlan` and the base spec (the tokenizer
    is the base's; none of its responses can be cached yet).

    Raises:
        UsageError: A given adapter is missing or belongs to another base.
    """
    train = variant.spec.train
    if variant.spec.kind != "lora":
        return model, None
    if train is None or variant.spec.adapter is not None or model.backend not in _TRAINABLE:
        return resolve_adapter(task, variant, model, store_root).spec, None
    _, digest = base_of(model)
    out = adapter_dir(store_root, task, variant, digest)
    if (out / "training.json").is_file():
        return resolve_adapter(task, variant, model, store_root).spec, None
    n = len(task.split("train"))
    n = min(n, train.max_examples) if train.max_examples else n
    rate = measured_rate(digest, [store_root / "adapters", Path("adapters")])
    if rate is None and (model.backend == "embedded" and not model.model
                         or model.backend == "hf" and model.model == "embedded"):
        rate = DEFAULT_RATE
    seconds = rate.seconds(n, train.epochs) if rate else None
    basis = rate.basis if rate else "unknown: no earlier training of this base in the store"
    return model, TrainingPlan(task.name, variant.name, str(model), out, n, train.epochs,
                               seconds, basis)
