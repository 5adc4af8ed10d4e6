"""LoRA training: real adapters from a task's train split, offline, on CPU or CUDA.

``harness.finetune.train_adapter`` unpacks the base model once (from the embedded GGUF),
trains peft LoRA matrices with the loss on answer tokens only, and writes a
peft adapter, a GGUF LoRA (llama.cpp's converter), an Ollama Modelfile and
``training.json``. ``check_adapter_base`` refuses an adapter trained for a
different base. Importing this package is cheap: torch, transformers and
peft load only when training starts.
"""

import os

# Spinning OpenMP threads are 10-100x slower on a CPU shared with other
# processes (measured: a gemma-3-270m forward pass, 0.1 s passive vs 1-14 s
# spinning); libgomp reads this when torch loads, so set it before that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from harness.training.export import BaseModel, check_adapter_base, hf_model_digest
from harness.training.llamacpp import LLAMA_CPP_VERSION, SRC_ENV, llama_cpp_source
from harness.training.options import (
    DEFAULT_TEMPLATE,
    OptionError,
    TrainOptions,
    TrainResult,
    choose_dtype,
    cpu_capability,
    validate_train_options,
)

__all__ = [
    "DEFAULT_TEMPLATE",
    "LLAMA_CPP_VERSION",
    "OptionError",
    "SRC_ENV",
    "BaseModel",
    "TrainOptions",
    "TrainResult",
    "check_adapter_base",
    "choose_dtype",
    "cpu_capability",
    "hf_model_digest",
    "llama_cpp_source",
    "validate_train_options",
]
