"""Options checked against the base model itself, before any weight is read or trained.

peft matches each ``target_modules`` name against the model's module names
(a module is targeted when its name is the target or ends in ``.target``)
and silently ignores a name that matches nothing as long as another one
matches: ``q_proj,v_prj`` trains ``q_proj`` only, while ``training.json``
records both. A name matching nothing at all, or a module LoRA cannot
adapt (a norm, a whole block), ends in a peft traceback. So every name is
checked here against the model built from its ``config.json`` on PyTorch's
``meta`` device (module names and types, no weights), with a did-you-mean
(:func:`difflib.get_close_matches`); and ``max_length`` against the model's
number of positions.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.training.options import OptionError, TrainOptions

ADAPTABLE = ("Linear", "Conv1D")
"""Layer classes LoRA adapts here: ``torch.nn.Linear`` and transformers' GPT-2 ``Conv1D``."""


@dataclass(frozen=True)
class BaseModules:
    """The base model's modules and context length.

    Attributes:
        kinds: Every named module's dotted name and class name.
        adaptable: The names of those LoRA can adapt (linear layers).
        positions: The most positions the model takes (None when its config does not say).
    """

    kinds: Mapping[str, str]
    adaptable: frozenset[str]
    positions: int | None = None

    def leaf_names(self) -> list[str]:
        """The distinct last name parts of the adaptable modules (``q_proj``, ...), sorted."""
        return sorted({n.rsplit(".", 1)[-1] for n in self.adaptable})


def base_modules(hf_dir: Path) -> BaseModules:
    """Build the base model from ``hf_dir/config.json`` on the meta device and list its modules.

    Needs torch and transformers (the training extra); reads no weights.

    Raises:
        UsageError: The config is unreadable, of an unknown model type, or not
            one of a causal language model.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config: Any = AutoConfig.from_pretrained(str(hf_dir))
        with torch.device("meta"):
            model: Any = AutoModelForCausalLM.from_config(config)  # type: ignore[no-untyped-call]
    except (ValueError, KeyError, OSError) as exc:
        raise UsageError(f"cannot train on this model: {exc}".split("\n")[0],
                         hf_dir / "config.json",
                         hint="a causal language model (AutoModelForCausalLM)") from None
    kinds = {name: type(m).__name__ for name, m in model.named_modules() if name}
    adaptable = frozenset(n for n, m in model.named_modules()
                          if n and (isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D"))
    text = getattr(config, "get_text_config", lambda: config)()
    positions = getattr(text, "max_position_embeddings", None) or getattr(text, "n_positions",
                                                                          None)
    return BaseModules(kinds, adaptable, int(positions) if positions else None)


def check_target_modules(requested: Sequence[str], modules: BaseModules) -> None:
    """Every requested name must target at least one module, and only linear layers.

    Raises:
        OptionError: ``target_modules``, at the first bad name: not a module of
            this model (with the closest layer name), or a module LoRA
            cannot adapt (naming its class).
    """
    leaves = modules.leaf_names()
    for i, name in enumerate(requested):
        hits = [n for n in modules.kinds if n == name or n.endswith("." + name)]
        if not hits:
            near = difflib.get_close_matches(name, leaves, n=1)
            hint = f"did you mean {near[0]}?" if near else f"its linear layers: {', '.join(leaves)}"
            raise OptionError("target_modules", f"{name!r} is not a module of this model",
                              index=i, hint=hint)
        wrong = [n for n in hits if n not in modules.adaptable]
        if wrong:
            raise OptionError("target_modules", f"{name!r} is a {modules.kinds[wrong[0]]}, "
                              "not a linear layer LoRA can adapt", index=i,
                              hint=f"its linear layers: {', '.join(leaves)}")


def check_against_base(options: TrainOptions, modules: BaseModules) -> None:
    """The options that depend on the base model: target modules and ``max_length``.

    Raises:
        OptionError: A target module the model lacks or cannot adapt, or a
            ``max_length`` beyond the model's positions.
    """
    check_target_modules(options.target_modules, modules)
    if modules.positions is not None and options.max_length > modules.positions:
        raise OptionError("max_length", f"{options.max_length} is longer than this model's "
                          f"{modules.positions} positions", hint=f"use at most {modules.positions}")
