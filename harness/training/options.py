"""Training options, their validation, and the run-time choices they imply.

:class:`TrainOptions` is what a user sets (rank, learning rate, epochs...);
:func:`validate_train_options` turns a bad value into one clear
:class:`~harness.errors.UsageError`. The base weights' dtype is decided at
run time from what the hardware computes natively (:func:`choose_dtype`):
bf16 on a GPU or on a CPU with AVX512-BF16/AMX, fp32 otherwise, because on
an AVX2-only CPU a bf16 matrix product is about 50x slower than fp32.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import UsageError
from harness.quiet import adopt_transformers_logging

DEFAULT_TEMPLATE = "Message: {{ input }}\nAnswer:"
"""The training prompt when none is given: a plain completion prompt (Jinja2)."""

TRAIN_EXTRA_HINT = "pip install 'tunegate[train]'"
Device = Literal["auto", "cpu", "cuda"]
DTypeName = Literal["float32", "bfloat16"]

_LIMITS: dict[str, tuple[float, float]] = {
    "rank": (1, 512),
    "alpha": (1, 8192),
    "epochs": (1, 1000),
    "lr": (1e-8, 0.1),
    "batch_size": (1, 4096),
    "max_length": (8, 32768),
}
_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_USES_INPUT = re.compile(r"\{[{%][^}]*\binput\b")
# Capability words (torch's report plus CPU flags) that mean native bf16 matmul.
_NATIVE_BF16 = ("AVX512_BF16", "AMX_BF16", "AMX")


@dataclass(frozen=True)
class TrainOptions:
    """Hyper-parameters and run settings of one LoRA training run.

    Attributes:
        rank: LoRA rank r.
        alpha: LoRA alpha (the update is scaled by alpha / rank).
        epochs: Passes over the train split (fewer when early stopping).
        lr: AdamW learning rate (constant).
        seed: Seeds LoRA initialisation and the data order.
        batch_size: Examples per optimizer step.
        target_modules: Module names that get LoRA matrices.
        early_stop_on_dev: Stop when the dev loss stops improving and keep the
            best epoch's weights (needs a ``dev`` split).
        device: ``auto`` (CUDA when torch has it), ``cpu`` or ``cuda``.
        max_length: Token budget per example; long prompts lose their start
            (after BOS), never the answer.
        max_examples: Train on at most this many train examples (a seeded,
            stable subset; ``None``: all): a quick adapter for a demo or a
            learning-curve point.
        template: Jinja2 prompt template (as a ``lora`` variant's template
            file: it sees ``input``, ``task``, ``labels`` and ``shots``); the
            answer follows it. ``None`` means :data:`DEFAULT_TEMPLATE`.
    """

    rank: int = 8
    alpha: int = 16
    epochs: int = 3
    lr: float = 2e-4
    seed: int = 0
    batch_size: int = 8
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    early_stop_on_dev: bool = False
    device: Device = "auto"
    max_length: int = 256
    max_examples: int | None = None
    template: str | None = None

    @property
    def prompt_template(self) -> str:
        """The template actually used (the default when none is set)."""
        return DEFAULT_TEMPLATE if self.template is None else self.template

    def hyperparameters(self) -> dict[str, Any]:
        """The options as JSON-ready values (for ``training.json``)."""
        return {"rank": self.rank, "alpha": self.alpha, "epochs": self.epochs, "lr": self.lr,
                "seed": self.seed, "batch_size": self.batch_size,
                "target_modules": list(self.target_modules),
                "early_stop_on_dev": self.early_stop_on_dev, "device": self.device,
                "max_length": self.max_length, "max_examples": self.max_examples,
                "template": self.prompt_template}


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run produced.

    Attributes:
        out_dir: The output directory (complete: it appears only at the end).
        peft_dir: The peft adapter directory (``adapter_config.json`` + safetensors).
        gguf_path: The adapter as a GGUF LoRA, for llama.cpp / the embedded backend.
        modelfile: An Ollama ``Modelfile`` (``FROM`` base + ``ADAPTER`` GGUF).
        training_json: The run record.
        train_loss: Mean answer-token loss per epoch.
        dev_loss: The same on ``dev`` per epoch (empty without a dev split).
        wall_s: Seconds the whole run took.
        tokens_trained: Tokens (prompt + answer) through the model in training.
        peak_memory_bytes: Peak RSS (CPU) or peak CUDA memory allocated.
        adapter_bytes: Size of the GGUF LoRA file.
        base_digest: SHA-256 of the base model the adapter belongs to.
        data_digest: SHA-256 of the rendered training (and dev) data.
        record: Everything in ``training.json``.
    """

    out_dir: Path
    peft_dir: Path
    gguf_path: Path
    modelfile: Path
    training_json: Path
    train_loss: tuple[float, ...]
    dev_loss: tuple[float, ...]
    wall_s: float
    tokens_trained: int
    peak_memory_bytes: int
    adapter_bytes: int
    base_digest: str
    data_digest: str
    record: dict[str, Any] = field(default_factory=dict, compare=False)


class OptionError(UsageError):
    """A bad training option, naming the option so a variant file can locate it.

    The message names the command-line flag (``--target-modules: ...``);
    :meth:`in_variant` says the same about a ``lora`` variant's ``train``
    block, where the option came from a YAML key instead.

    Args:
        option: The option's field name (``target_modules``).
        detail: What is wrong with it, without the option's name.
        index: Which item of a list option is wrong, when one is.
        hint: What to do about it.
        message: The command-line message when it is not ``--option: detail``.
    """

    def __init__(self, option: str, detail: str, *, index: int | None = None,
                 hint: str | None = None, message: str | None = None) -> None:
        super().__init__(message or f"{flag_of(option)}: {detail}", hint=hint)
        self.option = option
        self.detail = detail
        self.index = index

    def in_variant(self) -> tuple[str, tuple[str | int, ...]]:
        """The message and YAML location of this mistake in a variant file."""
        if self.option == "template":
            return f"template: {self.detail}", ("template",)
        loc: tuple[str | int, ...] = ("train", self.option)
        return f"train.{self.option}: {self.detail}", (
            loc if self.index is None else (*loc, self.index))


def flag_of(option: str) -> str:
    """The command-line flag of an option: ``target_modules`` is ``--target-modules``."""
    return "--" + option.replace("_", "-")


def _check_range(name: str, value: float, flag: str) -> None:
    low, high = _LIMITS[name]
    if not low <= value <= high:
        shown = f"{low:g}" if name != "lr" else "0 (exclusive)"
        raise OptionError(name, f"{value:g} is out of range", hint=f"use {shown} to {high:g}",
                          message=f"{flag} {value:g} is out of range")


def validate_train_options(options: TrainOptions) -> TrainOptions:
    """Check every option a user sets and return ``options`` unchanged.

    What needs the base model (module names, its context length) is checked
    by :func:`harness.training.modules.check_against_base`.

    Raises:
        OptionError: A value out of range, an unknown device or a bad module name.
    """
    for name in ("rank", "alpha", "epochs", "batch_size", "max_length"):
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionError(name, f"must be a whole number, not {value!r}",
                              message=f"{flag_of(name)} must be a whole number, not {value!r}")
    _check_range("rank", options.rank, "--rank")
    _check_range("alpha", options.alpha, "--alpha")
    _check_range("epochs", options.epochs, "--epochs")
    _check_range("lr", options.lr, "--lr")
    _check_range("batch_size", options.batch_size, "--batch-size")
    _check_range("max_length", options.max_length, "--max-length")
    if options.max_examples is not None and (
            isinstance(options.max_examples, bool) or not isinstance(options.max_examples, int)
            or options.max_examples < 1):
        raise OptionError("max_examples", f"must be a whole number >= 1, not "
                          f"{options.max_examples!r}", message="--max-examples must be a "
                          f"whole number >= 1, not {options.max_examples!r}")
    if options.seed < 0:
        raise OptionError("seed", f"{options.seed} must be 0 or more",
                          message=f"--seed {options.seed} must be 0 or more")
    if options.device not in ("auto", "cpu", "cuda"):
        raise OptionError("device", f"unknown device {options.device!r}",
                          hint="auto, cpu or cuda")
    if not options.target_modules:
        raise OptionError("target_modules", "needs at least one module name",
                          hint="e.g. q_proj,k_proj,v_proj,o_proj")
    for i, module in enumerate(options.target_modules):
        if not _MODULE_NAME.match(module):
            raise OptionError("target_modules", f"bad target module name {module!r}", index=i,
                              hint="module names like q_proj or mlp.down_proj")
    if options.template is not None and not _USES_INPUT.search(options.template):
        raise OptionError("template", "the training template never uses {{ input }}",
                          hint="e.g. " + DEFAULT_TEMPLATE.replace("\n", "\\n"),
                          message="the training template never uses {{ input }}")
    return options


def cpu_capability() -> str:
    """The CPU's vector capability as torch reports it, plus native-bf16 flags.

    Returns strings like ``AVX2`` or ``AVX512+AVX512_BF16+AMX_BF16``: torch's
    ``get_cpu_capability()`` does not report bf16 support itself, so the
    Linux CPU flags are appended when they show it.
    """
    import torch

    words = [torch.backends.cpu.get_cpu_capability()]
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh
                          if line.startswith("flags")), [])
    except OSError:
        flags = []
    words += [flag.upper() for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    return "+".join(words)


def native_bf16_cpu(capability: str) -> bool:
    """Whether a CPU capability string means bf16 matmuls run natively.

    >>> native_bf16_cpu("AVX2"), native_bf16_cpu("AVX512"), native_bf16_cpu("AVX512+AMX_BF16")
    (False, False, True)
    """
    words = set(capability.upper().replace(" ", "_").split("+"))
    return any(word in words for word in _NATIVE_BF16)


def choose_dtype(device: str, capability: str, cuda_bf16: bool = True) -> DTypeName:
    """The base weights' dtype for a device: bf16 only where it is native.

    Args:
        device: The resolved device (``cpu`` or ``cuda``).
        capability: :func:`cpu_capability`'s string (ignored on CUDA).
        cuda_bf16: Whether the GPU supports bf16 (pre-Ampere GPUs do not).

    >>> choose_dtype("cpu", "AVX2"), choose_dtype("cuda", "AVX2")
    ('float32', 'bfloat16')
    """
    if device == "cuda":
        return "bfloat16" if cuda_bf16 else "float32"
    return "bfloat16" if native_bf16_cpu(capability) else "float32"


def resolve_device(requested: str) -> str:
    """Turn ``auto``/``cpu``/``cuda`` into the device to use.

    Raises:
        UsageError: ``cuda`` was asked for but torch has no CUDA.
    """
    import torch

    has_cuda = bool(torch.cuda.is_available())
    if requested == "cuda" and not has_cuda:
        raise UsageError("--device cuda, but this torch has no usable CUDA device",
                         hint="install a CUDA build of torch, or use --device cpu")
    if requested == "auto":
        return "cuda" if has_cuda else "cpu"
    return requested


def require_train_deps() -> None:
    """Import the training extra, naming it if anything is missing.

    Also switches the Hugging Face libraries to offline mode before they load.

    Raises:
        UsageError: torch, transformers or peft is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    missing = []
    for module in ("torch", "transformers", "peft", "safetensors"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UsageError(f"training needs {', '.join(missing)}, which is not installed",
                         hint=TRAIN_EXTRA_HINT)
    adopt_transformers_logging()  # its messages to the run's log, not the terminal


def machine_description(device: str, dtype: DTypeName) -> dict[str, Any]:
    """Where a run happened: CPU, GPU, library versions, chosen device and dtype."""
    import peft
    import torch
    import transformers

    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cpu_capability": cpu_capability(), "device": device, "base_dtype": dtype,
        "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "peft": peft.__version__,
    }
    if device == "cuda":
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda"] = torch.version.cuda
    return info
