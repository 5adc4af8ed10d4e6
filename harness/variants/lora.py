"""``lora`` variants: a prompt plus an adapter, given or trained on the spot.

A variant's ``adapter`` may be:

- a tunegate adapter directory (``tunegate train``'s output, with
  ``training.json``): its GGUF LoRA on the ``embedded`` backend, its peft
  directory on the ``hf`` backend;
- a peft directory (``adapter_config.json``): the ``hf`` backend;
- a GGUF LoRA file (``.gguf``): the ``embedded`` backend (llama.cpp ``lora_path``);
- ``ollama:NAME``: an Ollama model built from the Modelfile (``ollama create
  NAME -f Modelfile``), run as the model on the ``ollama`` backend;
- ``ft:...``: a fine-tuned OpenAI model id, sent as the model by the ``openai``
  backend (its base must match the run's ``openai:MODEL``).
- ``served:NAME``: an adapter the server already serves under its own model
  name (vLLM ``--lora-modules NAME=PATH``), sent as the model by ``openai``.

With ``train:`` instead, the adapter is trained on the task's train split
into the store's ``adapters/`` directory, named by a digest of the task
data, the variant (template and hyper-parameters) and the base model's
weights, so it is trained once and shared by ``embedded`` and ``hf:embedded``.
The adapter's content digest is part of every cache key (the backends put
it in their identity): retraining invalidates exactly its own responses.
An adapter recorded as trained for a different base model is refused.
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
from harness.yamlio import load_yaml

REMOTE_PREFIXES = ("ollama:", "ft:", "served:")
"""Adapter values that name a remote model instead of a file."""
_TRAINABLE = ("embedded", "hf")


@dataclass(frozen=True)
class ResolvedAdapter:
    """The model spec to run a lora variant with, and its training record if known."""

    spec: ModelSpec
    training: dict[str, Any] | None


def base_of(model: ModelSpec) -> tuple[str, str]:
    """A local base model's readable name and weight digest (for adapter checks).

    ``embedded`` and ``hf:embedded`` share the embedded GGUF's digest.

    Raises:
        UsageError: The backend has no local weights, or the model file is missing.
    """
    from harness.modelfiles import EMBEDDED_NAME, embedded_gguf

    if model.backend == "embedded" and model.model:
        from harness.modelfiles import resolve_embedded

        path, digest = resolve_embedded(model.model)
        return path.name, digest
    name = model.model.partition("?")[0]  # hf:PATH?device=cuda
    if model.backend == "embedded" or (model.backend == "hf" and name == "embedded"):
        return EMBEDDED_NAME, embedded_gguf()[1]
    if model.backend == "hf":
        from harness.backends.hf import resolve_model_dir

        path, digest = resolve_model_dir(name)
        return path.name, digest
    raise UsageError(f"backend {model.backend!r} has no local base model to check an "
                     "adapter against")


def adapter_dir(store_root: Path, task: Task, variant: Variant, base_digest: str) -> Path:
    """Where the adapter trained for (task, variant, base weights) lives."""
    key = hashlib.sha256(f"{task.digest}:{variant.digest}:{base_digest}".encode()
                         ).hexdigest()[:12]
    return store_root / "adapters" / f"{task.name}-{variant.name}-{key}"


def _read_training(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def resolve_adapter(task: Task, variant: Variant, model: ModelSpec, store_root: Path,
                    progress: Callable[[str], None] | None = None) -> ResolvedAdapter:
    """The model spec (with adapter) to run ``variant`` on ``model``; trains if it must.

    Raises:
        UsageError: The backend cannot take this kind of adapter, the adapter is
            missing or corrupt, training failed on a user mistake, or the
            adapter belongs to another base model (naming both).
    """
    if variant.spec.kind != "lora":
        return ResolvedAdapter(model, None)
    given = variant.spec.adapter
    if given is not None and given.startswith(REMOTE_PREFIXES):
        return ResolvedAdapter(_remote(variant, model, given), None)
    if model.backend not in _TRAINABLE:
        raise UsageError(f"variant {variant.name!r}: backend {model.backend!r} cannot load an "
                         "adapter file", variant.path,
                         hint="GGUF LoRA: embedded; peft directory: hf:PATH or hf:embedded; "
                         "Ollama: adapter: ollama:NAME; OpenAI: adapter: ft:MODEL_ID")
    base_name, base_digest = base_of(model)
    if given is None:
        out = _train_on_the_spot(task, variant, model, store_root, base_digest, progress)
        path = out / ("peft" if model.backend == "hf" else "adapter.gguf")
        training = _read_training(out / "training.json")
    else:
        path, training = _local_adapter(variant, model)
    from harness.training.export import check_adapter_base

    check_adapter_base(path, base_digest, base_name)
    return ResolvedAdapter(ModelSpec(model.backend, model.model, str(path)), training)


def _local_adapter(variant: Variant, model: ModelSpec) -> tuple[Path, dict[str, Any] | None]:
    path = variant.adapter_path()
    if path is None or not path.exists():
        raise UsageError(f"variant {variant.name!r}: adapter not found: {path}", variant.path,
                         hint="train one with `tunegate train TASK`")
    record = _read_training(path / "training.json") if path.is_dir() else None
    if path.is_dir() and record is not None:  # a tunegate adapter directory: pick the form
        name = "peft" if model.backend == "hf" else "adapter.gguf"
        return path / name, record
    is_peft = path.is_dir()
    if is_peft != (model.backend == "hf"):
        kind = "a peft directory" if is_peft else "a GGUF LoRA file"
        need = "hf:PATH or hf:embedded" if is_peft else "embedded"
        raise UsageError(f"variant {variant.name!r}: the adapter is {kind}, which backend "
                         f"{model.backend!r} cannot load", variant.path,
                         hint=f"run it with the {need} backend, or give tunegate train's "
                         "output directory (it holds both forms)")
    folder = path if is_peft else path.parent
    parent = _read_training(folder.parent / "training.json") if is_peft else None
    return path, _read_training(folder / "training.json") or parent


def _remote(variant: Variant, model: ModelSpec, given: str) -> ModelSpec:
    """An Ollama model name replaces the run's model; an OpenAI fine-tune is its adapter."""
    want = "ollama" if given.startswith("ollama:") else "openai"
    if model.backend != want:
        raise UsageError(f"variant {variant.name!r}: adapter {given!r} runs on the {want} "
                         f"backend, not on {model.backend!r}", variant.path,
                         hint=f"list {want}:MODEL under models")
    name, sep, query = model.model.partition("?")
    if want == "ollama":  # the adapter lives inside the Ollama model (built from the Modelfile)
        return ModelSpec("ollama", given.removeprefix("ollama:") + sep + query)
    if given.startswith("served:"):  # e.g. a vLLM --lora-modules name on the run's server
        return ModelSpec("openai", model.model, given.removeprefix("served:"))
    parts = given.split(":")
    ft_base = parts[1] if len(parts) > 1 else ""
    if not ft_base:
        raise UsageError(f"variant {variant.name!r}: malformed fine-tune id {given!r}",
                         variant.path, hint="ft:BASE:ORG:NAME:ID, as OpenAI returns it")
    if name and not ft_base.startswith(name):
        raise UsageError(f"variant {variant.name!r}: fine-tune {given!r} was trained for base "
                         f"{ft_base}, not for {name}", variant.path,
                         hint=f"run it against openai:{ft_base}")
    # The openai backend sends the adapter name as the model, and keys its cache on it.
    return ModelSpec("openai", model.model, given)


def _train_on_the_spot(task: Task, variant: Variant, model: ModelSpec, store_root: Path,
                       base_digest: str, progress: Callable[[str], None] | None) -> Path:
    out = adapter_dir(store_root, task, variant, base_digest)
    if (out / "training.json").is_file():
        return out
    from harness.finetune import train_adapter
    from harness.training import OptionError, TrainOptions

    train = variant.spec.train
    if train is None:  # VariantSpec guarantees one of adapter/train
        raise UsageError(f"variant {variant.name!r} has neither adapter nor train",
                         variant.path)
    name, _, query = model.model.partition("?")
    if model.backend == "hf" and name != "embedded":
        spec = f"hf:{name}"
    else:
        spec = "embedded" + (f":{name}" if model.backend == "embedded" and name else "")
    template = variant.family_templates.get(task.family, variant.template_text)
    opts = TrainOptions(**train.model_dump(), template=template,
                        device="cuda" if "device=cuda" in query else "auto")
    try:
        train_adapter(task, model=spec, out_dir=out, options=opts, force=True,
                      progress=progress)
    except OptionError as exc:  # an option of the variant's train block: locate it there
        message, loc = exc.in_variant()
        raise load_yaml(variant.path).error(message, loc, hint=exc.hint) from None
    return out
