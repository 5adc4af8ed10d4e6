"""``lora`` variants: a prompt plus an adapter, given as a file or trained on the spot.

A trained adapter lives in the store directory under ``adapters/`` named by a
digest of the task data, the variant (template and hyper-parameters) and the
base model, so it is trained once and retraining invalidates exactly its own
cached responses (the adapter's digest is part of every cache key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.backends.base import ModelSpec
from harness.errors import UsageError
from harness.tasks import Task
from harness.variants.prompt import Variant


@dataclass(frozen=True)
class ResolvedAdapter:
    """The model spec to run a lora variant with, and its training record if known."""

    spec: ModelSpec
    training: dict[str, Any] | None


def adapter_dir(store_root: Path, task: Task, variant: Variant, model: ModelSpec) -> Path:
    """Where the adapter trained for (task, variant, base model) lives."""
    key = hashlib.sha256(f"{task.digest}:{variant.digest}:{model}".encode()).hexdigest()[:12]
    return store_root / "adapters" / f"{task.name}-{variant.name}-{key}"


def _read_training(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def resolve_adapter(task: Task, variant: Variant, model: ModelSpec, store_root: Path,
                    progress: Callable[[str], None] | None = None) -> ResolvedAdapter:
    """The model spec (with adapter) for a variant; trains the adapter if it must.

    Raises:
        UsageError: The backend cannot take an adapter file, training failed on a
            user mistake, or the adapter belongs to another base model.
    """
    if variant.spec.kind != "lora":
        return ResolvedAdapter(model, None)
    if model.backend not in ("embedded",):
        raise UsageError(f"variant {variant.name!r}: backend {model.backend!r} cannot load an "
                         "adapter file", variant.path,
                         hint="use the embedded backend for GGUF LoRA adapters")
    given = variant.adapter_path()
    if given is not None:
        training = _read_training(given.parent / "training.json")
        return ResolvedAdapter(ModelSpec(model.backend, model.model, str(given)), training)
    out = adapter_dir(store_root, task, variant, model)
    if not (out / "training.json").is_file():
        from harness.training import TrainOptions, train_adapter

        assert variant.spec.train is not None  # guaranteed by VariantSpec
        opts = TrainOptions(**variant.spec.train.model_dump(), template=variant.template_text)
        train_adapter(task, model=str(model), out_dir=out, options=opts, force=True,
                      progress=progress)
    training = _read_training(out / "training.json")
    return ResolvedAdapter(ModelSpec(model.backend, model.model, str(out / "adapter.gguf")),
                           training)
