"""Check a run config's ``economics`` at load: every input the gate will need exists.

The gate prices the fine-tuned candidate with the config's prices and what
the run measures. Some inputs can be known to be missing before any model
call, and are then a located user error (``validate`` and ``run`` both
stop), not a traceback at gate time:

- ``training_hours`` (GPU pricing) or ``tokens_trained`` (managed pricing),
  when a candidate ``lora`` variant's adapter was trained elsewhere (``served:``,
  ``ft:``, ``ollama:``, or a file without tunegate's ``training.json``) or its
  ``training.json`` lacks the measurement, and the config does not give it;
- ``n_labelled``, when labelling has a price but a task the candidate runs
  on has no train split to count (it would silently count 0 examples).

Measured error rates (``cost_per_error``) exist only after the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from harness.analysis.decision import economics_inputs, measured_training
from harness.tasks import Task
from harness.variants.prompt import Variant
from harness.yamlio import YamlDoc

REMOTE = ("served:", "ft:", "ollama:")
_PLACEHOLDER = {"wall_s": 3600.0, "tokens_trained": 1.0}


def _training_record(variant: Variant) -> tuple[dict[str, Any] | None, str]:
    """A given adapter's ``training.json`` (where tunegate looks for it), and what it is."""
    given = variant.spec.adapter or ""
    if given.startswith(REMOTE):
        return None, f"its adapter {given!r} was trained outside tunegate"
    path = variant.adapter_path()
    assert path is not None  # a lora variant without train: names an adapter
    places = ([path / "training.json"] if path.is_dir() else []) + [
        path.parent / "training.json"]
    for place in places:
        try:
            record = json.loads(place.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict):
            return record, f"its adapter's {place} records no such measurement"
    return None, f"its adapter {path} has no training.json (tunegate train writes one)"


def unmeasured(variant: Variant, amount: str) -> str | None:
    """Why ``variant``'s training measures no ``amount`` (None when it will be measured).

    Args:
        variant: A ``lora`` variant.
        amount: ``training_hours`` or ``tokens_trained``.
    """
    if variant.spec.train is not None:  # trained by the run, which measures it
        return None
    record, why = _training_record(variant)
    if record is None:
        return why
    seconds, tokens = measured_training(record)
    return why if (seconds if amount == "training_hours" else tokens) is None else None


def _candidates(variants: Sequence[Variant], candidate: str) -> list[Variant]:
    loras = [v for v in variants if v.spec.kind == "lora"]
    if candidate == "auto":
        return loras
    return [v for v in loras if v.name == candidate.split("@")[0]]


def check_economics(doc: YamlDoc, economics: Mapping[str, Any] | None, candidate: str,
                    tasks: Sequence[Task], variants: Sequence[Variant]) -> None:
    """Validate prices now, and that every input the gate needs will exist.

    Args:
        doc: The run config (for locations).
        economics: Its ``economics`` section (None: nothing to check).
        candidate: ``decision.candidate`` (``auto``: every lora variant may be it).
        tasks: The config's tasks.
        variants: The config's variants.

    Raises:
        UsageError: A bad price (at its key), or a missing input, at the key
            that needs it, naming the variant or task it is missing for.
    """
    if economics is None:
        return
    try:
        economics_inputs(economics, 1, _PLACEHOLDER)
    except ValueError as exc:
        field = str(exc).split(" ", 1)[0]
        loc = ("economics", field) if field in economics else ("economics",)
        raise doc.error(f"economics: {exc}", loc) from None
    picked = _candidates(variants, candidate)
    gpu = economics.get("gpu_price_per_hour") is not None
    amount, price = (("training_hours", "gpu_price_per_hour") if gpu
                     else ("tokens_trained", "managed_price_per_mtok_trained"))
    if economics.get(amount) is None:
        for variant in picked:
            why = unmeasured(variant, amount)
            if why is not None:
                raise doc.error(f"economics.{amount} is needed: variant {variant.name!r} has "
                                "no measured training", ("economics", price),
                                hint=f"{why}; give economics.{amount}")
    _check_labelled(doc, economics, tasks, picked)


def _check_labelled(doc: YamlDoc, economics: Mapping[str, Any], tasks: Sequence[Task],
                    picked: Sequence[Variant]) -> None:
    if economics.get("n_labelled") is not None or not economics.get(
            "labelling_cost_per_example"):
        return
    for task in tasks:
        if not task.split("train") and any(v.applies_to(task) for v in picked):
            raise doc.error(f"economics.n_labelled is needed: task {task.name!r} has no "
                            "train split to count labelled examples",
                            ("economics", "labelling_cost_per_example"),
                            hint="give economics.n_labelled, the examples labelled to "
                            "train the adapter")

