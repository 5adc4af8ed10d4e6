"""Training options: ranges, names, and the run-time dtype choice."""

from __future__ import annotations

from dataclasses import replace

import pytest

from harness.errors import UsageError
from harness.training.options import (
    TrainOptions,
    choose_dtype,
    native_bf16_cpu,
    validate_train_options,
)


def test_defaults_are_valid() -> None:
    opts = TrainOptions()
    assert validate_train_options(opts) is opts
    assert "{{ input }}" in opts.prompt_template
    assert opts.hyperparameters()["target_modules"] == list(opts.target_modules)


@pytest.mark.parametrize(("change", "words"), [
    ({"rank": 0}, "--rank 0 is out of range"),
    ({"rank": 513}, "--rank 513 is out of range"),
    ({"lr": 0.0}, "--lr 0 is out of range"),
    ({"lr": 0.5}, "--lr 0.5 is out of range"),
    ({"lr": -1e-4}, "--lr -0.0001 is out of range"),
    ({"epochs": 0}, "--epochs 0 is out of range"),
    ({"alpha": 0}, "--alpha 0 is out of range"),
    ({"batch_size": 0}, "--batch-size 0 is out of range"),
    ({"max_length": 4}, "--max-length 4 is out of range"),
    ({"seed": -1}, "--seed -1 must be 0 or more"),
    ({"max_examples": 0}, "--max-examples must be a whole number >= 1"),
    ({"rank": 2.5}, "--rank must be a whole number"),
    ({"rank": True}, "--rank must be a whole number"),
    ({"target_modules": ()}, "needs at least one module name"),
    ({"target_modules": ("q_proj", "bad name")}, "bad target module name"),
    ({"device": "tpu"}, "unknown device"),
    ({"template": "no input here"}, "never uses {{ input }}"),
])
def test_bad_options_are_one_clear_line(change: dict[str, object], words: str) -> None:
    with pytest.raises(UsageError) as err:
        validate_train_options(replace(TrainOptions(), **change))  # type: ignore[arg-type]
    assert words in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_range_hint_names_the_valid_range() -> None:
    with pytest.raises(UsageError) as err:
        validate_train_options(TrainOptions(rank=1000))
    assert err.value.hint == "use 1 to 512"


@pytest.mark.parametrize(("capability", "native"), [
    ("AVX2", False), ("AVX512", False), ("DEFAULT", False), ("ZVECTOR", False),
    ("AVX512+AVX512_BF16", True), ("AVX512+AMX_BF16", True), ("AVX512+AVX512_BF16+AMX_BF16", True),
    ("avx512+amx_bf16", True), ("AMX", True),
])
def test_native_bf16_only_with_bf16_instructions(capability: str, native: bool) -> None:
    assert native_bf16_cpu(capability) is native


@pytest.mark.parametrize(("device", "capability", "cuda_bf16", "dtype"), [
    ("cpu", "AVX2", True, "float32"),
    ("cpu", "AVX512", True, "float32"),
    ("cpu", "AVX512+AMX_BF16", True, "bfloat16"),
    ("cpu", "AVX512+AVX512_BF16", False, "bfloat16"),
    ("cuda", "AVX2", True, "bfloat16"),
    ("cuda", "AVX2", False, "float32"),
])
def test_choose_dtype(device: str, capability: str, cuda_bf16: bool, dtype: str) -> None:
    assert choose_dtype(device, capability, cuda_bf16) == dtype


def test_cpu_capability_starts_with_torchs_report() -> None:
    torch = pytest.importorskip("torch")
    from harness.training.options import cpu_capability

    cap = cpu_capability()
    assert cap.split("+")[0] == torch.backends.cpu.get_cpu_capability()


def test_cuda_requested_without_cuda_is_a_usage_error() -> None:
    torch = pytest.importorskip("torch")
    from harness.training.options import resolve_device

    if torch.cuda.is_available():
        assert resolve_device("cuda") == "cuda"
        return
    with pytest.raises(UsageError, match="no usable CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"
