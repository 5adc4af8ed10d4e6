"""``train_adapter``: one LoRA training run from a task to a finished adapter directory.

The run writes into a hidden temporary directory beside ``out_dir`` and
renames it into place only when everything (peft adapter, GGUF LoRA,
Modelfile and, last, ``training.json``) is written: Ctrl-C or a crash
leaves no directory that looks like a finished adapter.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.backends import BackendOptions, ModelSpec, ScoreRequest, create
from harness.errors import UsageError
from harness.modelfiles import REQUANT_TYPES, resolve_embedded
from harness.tasks import Task
from harness.training.data import (
    Encoded,
    Pair,
    data_digest,
    encode_pairs,
    render_pairs,
    stable_subset,
)
from harness.training.export import (
    TRAINING_JSON,
    BaseModel,
    hf_model_digest,
    write_model_card,
    write_modelfile,
)
from harness.training.llamacpp import convert_lora, llama_cpp_source
from harness.training.modules import base_modules, check_against_base
from harness.training.options import (
    TrainOptions,
    TrainResult,
    choose_dtype,
    cpu_capability,
    machine_description,
    require_train_deps,
    resolve_device,
    validate_train_options,
)
from harness.training.trainer import FitResult, add_lora, fit, peak_memory_bytes
from harness.training.unpack import dtype_kwarg, remove_stale, unpack_gguf, unpacked_dir

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
PEFT_DIR, GGUF_NAME, MODELFILE = "peft", "adapter.gguf", "Modelfile"


def train_adapter(task: Task, *, model: str = "embedded", out_dir: Path,
                  options: TrainOptions, force: bool = False,
                  progress: Progress | None = None) -> TrainResult:
    """Train a LoRA adapter on ``task``'s train split and export it.

    Args:
        task: A loaded task; its ``train`` split is the training data and its
            ``dev`` split (if any) gives the dev loss.
        model: ``embedded`` (default), ``embedded:PATH.gguf``, ``hf:PATH`` or
            ``hf:embedded`` (the same as ``embedded``).
        out_dir: Directory to create: ``peft/``, ``adapter.gguf``, ``Modelfile``,
            ``training.json``.
        options: Hyper-parameters (checked with :func:`validate_train_options`).
        force: Replace an existing adapter directory at ``out_dir``.
        progress: Called with one line per stage and per epoch.

    Raises:
        UsageError: Bad options (an :class:`~harness.training.options.OptionError`,
            also for target modules the base model lacks), no train split,
            ``out_dir`` exists without ``force``, the training extra is
            missing, an unusable model spec.
    """
    validate_train_options(options)
    _check_task(task, options)
    out_dir = Path(out_dir).expanduser().absolute()
    check_out_dir(out_dir, force)
    require_train_deps()
    base = resolve_base(model, progress)
    check_against_base(options, base_modules(base.hf_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{out_dir.name}.partial-"
    remove_stale(out_dir.parent, prefix)
    tmp = out_dir.parent / f"{prefix}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        record = _train_into(tmp, task, base, options, progress)
        check_out_dir(out_dir, force)
        publish(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress is not None:
        progress(f"adapter written: {out_dir} ({record['metrics']['wall_s']:.0f} s)")
    return _result(out_dir, record)


def _check_task(task: Task, options: TrainOptions) -> None:
    if not task.split("train"):
        raise UsageError(f"task {task.name!r} has no train split to train on", task.path,
                         hint="add a 'train' file under data.files, or use a split_rule")
    if options.early_stop_on_dev and not task.split("dev"):
        raise UsageError(f"early stopping on dev loss, but task {task.name!r} has no dev split",
                         task.path, hint="add a 'dev' split or drop early stopping")


def check_out_dir(out_dir: Path, force: bool) -> None:
    """Refuse to overwrite: an existing ``out_dir`` needs ``force``, and must be an adapter.

    Raises:
        UsageError: It exists and ``force`` is off, or it is a file, or it is a
            non-empty directory that is not a tunegate adapter (never deleted).
    """
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise UsageError("the output path exists and is not a directory", out_dir)
    if not force:
        raise UsageError("the output directory already exists", out_dir,
                         hint="pass --force to replace it, or choose another --out")
    if any(out_dir.iterdir()) and not (out_dir / TRAINING_JSON).is_file():
        raise UsageError("refusing to replace a directory that is not a tunegate adapter "
                         f"(no {TRAINING_JSON})", out_dir, hint="choose another --out")


def publish(tmp: Path, out_dir: Path) -> None:
    """Move a finished ``tmp`` directory to ``out_dir``, replacing an old adapter there."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def resolve_base(model: str, progress: Progress | None = None) -> BaseModel:
    """Find (and for a GGUF, unpack once) the base model a spec names.

    Raises:
        UsageError: An unsupported spec, a missing file or directory.
    """
    kind, _, rest = model.strip().partition(":")
    if kind == "hf" and rest == "embedded":  # the HF copy of the embedded model: the same base
        kind, rest = "embedded", ""
    if kind == "embedded":
        # embedded, embedded:q8_0 (a re-export, built once) or embedded:PATH.gguf
        gguf, digest = resolve_embedded(rest, progress)
        tokenizer_dir = None
        if rest in REQUANT_TYPES:  # the same tokenizer as the packaged model's
            tokenizer_dir = resolve_base("embedded", progress).hf_dir
        hf_dir = unpack_gguf(gguf, digest, unpacked_dir(gguf, digest, not rest), progress,
                             tokenizer_dir)
        return BaseModel(model.strip(), gguf.name, digest, hf_dir, gguf)
    if kind == "hf" and rest:
        hf_dir = Path(rest).expanduser()
        if not (hf_dir / "config.json").is_file():
            raise UsageError(f"not a Hugging Face model directory (no config.json): {hf_dir}")
        return BaseModel(model.strip(), hf_dir.name, hf_model_digest(hf_dir), hf_dir)
    raise UsageError(f"cannot train on model {model!r}",
                     hint="use embedded, embedded:PATH.gguf or hf:PATH")


def _encode(task: Task, tokenizer: Any, options: TrainOptions
            ) -> tuple[list[Pair], list[Pair], list[Encoded], list[Encoded]]:
    template = options.prompt_template
    train_pairs = render_pairs(task, "train", template)
    train_pairs = stable_subset(train_pairs, options.max_examples, options.seed)
    dev_pairs = render_pairs(task, "dev", template)

    def tokenize(text: str, bos: bool) -> list[int]:
        return list(tokenizer(text, add_special_tokens=bos)["input_ids"])

    eos = tokenizer.eos_token_id
    train = encode_pairs(train_pairs, tokenize, eos, options.max_length)
    dev = encode_pairs(dev_pairs, tokenize, eos, options.max_length)
    return train_pairs, dev_pairs, train, dev


def _load_model(base: BaseModel, device: str, dtype_name: str, options: TrainOptions) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(options.seed)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(base.hf_dir), attn_implementation="eager",
        **dtype_kwarg(getattr(torch, dtype_name)))
    model.to(device)
    model.config.use_cache = False
    return add_lora(model, options)


def _train_into(tmp: Path, task: Task, base: BaseModel, options: TrainOptions,
                progress: Progress | None) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    started = time.perf_counter()
    device = resolve_device(options.device)
    cuda_bf16 = device == "cuda" and bool(torch.cuda.is_bf16_supported())
    dtype_name = choose_dtype(device, cpu_capability(), cuda_bf16)
    tokenizer = AutoTokenizer.from_pretrained(str(base.hf_dir))
    train_pairs, dev_pairs, train, dev = _encode(task, tokenizer, options)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    if progress is not None:
        progress(f"training LoRA r={options.rank} on {len(train)} examples "
                 f"({device}, {dtype_name} base)")
    model = _load_model(base, device, dtype_name, options)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    result = fit(model, train, dev, options, pad_id, device, progress)
    peak = peak_memory_bytes(device)
    peft_dir = tmp / PEFT_DIR
    model.save_pretrained(str(peft_dir))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    del model
    digest = data_digest(train_pairs, dev_pairs, options.prompt_template)
    write_model_card(peft_dir, base, digest)
    check = _export(tmp, base, train_pairs[0], options, progress)
    record = _record(task, base, options, result, digest, machine_description(device, dtype_name),
                     len(train))
    record["metrics"].update(wall_s=round(time.perf_counter() - started, 3),
                             peak_memory_bytes=peak,
                             peak_memory_kind="cuda_max_allocated" if device == "cuda"
                             else "process_peak_rss")
    record["adapter"] = {"trainable_parameters": int(trainable),
                         "peft_bytes": _size(peft_dir), "gguf_bytes": _size(tmp / GGUF_NAME)}
    record["gguf_check"] = check
    record["data"].update(train_examples=len(train), dev_examples=len(dev))
    _write_json(tmp / TRAINING_JSON, record)
    return record


def _export(tmp: Path, base: BaseModel, sample: Pair, options: TrainOptions,
            progress: Progress | None) -> dict[str, Any]:
    if progress is not None:
        progress("converting the adapter to a GGUF LoRA (llama.cpp convert_lora_to_gguf.py)")
    source = llama_cpp_source(progress)
    convert_lora(source, base.hf_dir, tmp / PEFT_DIR, tmp / GGUF_NAME)
    write_modelfile(tmp / MODELFILE, base, GGUF_NAME)
    if base.gguf is None:
        return {"skipped": "no GGUF base model to load the LoRA on"}
    if importlib.util.find_spec("llama_cpp") is None:  # the embedded extra is optional here
        return {"skipped": "llama-cpp-python is not installed: the GGUF LoRA was not loaded"}
    effect = gguf_lora_effect(base, tmp / GGUF_NAME, sample.prompt, sample.answer,
                              n_ctx=max(512, options.max_length + 64))
    return {"example": sample.id, **effect}


def gguf_lora_effect(base: BaseModel, lora: Path, prompt: str, answer: str,
                     n_ctx: int) -> dict[str, float]:
    """Load the GGUF LoRA in llama.cpp and measure how it moves an answer's log-probability.

    Raises:
        RuntimeError: The adapter loads but leaves the output unchanged.
    """
    model = str(base.gguf) if base.spec != "embedded" else ""
    scores = []
    for adapter in (None, str(lora)):
        backend = create(ModelSpec("embedded", model=model, adapter=adapter),
                         BackendOptions(n_ctx=n_ctx))
        try:
            scores.append(backend.score(ScoreRequest(prompt, (answer,))).logprobs[0])
        finally:
            backend.close()
    if abs(scores[1] - scores[0]) < 1e-4:
        raise RuntimeError(f"the GGUF LoRA {lora} loads in llama.cpp but changes nothing")
    return {"answer_logprob_base": round(scores[0], 4),
            "answer_logprob_adapter": round(scores[1], 4)}


def _record(task: Task, base: BaseModel, options: TrainOptions, result: FitResult,
            digest: str, machine: dict[str, Any], n_train: int) -> dict[str, Any]:
    seconds = sum(result.epoch_seconds) / max(len(result.epoch_seconds), 1)
    return {
        "format": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "task": {"name": task.name, "family": task.family, "digest": task.digest},
        "data": {"digest": digest, "template": options.prompt_template},
        "base": {"spec": base.spec, "name": base.name, "sha256": base.digest,
                 "gguf": str(base.gguf) if base.gguf else None, "hf_dir": str(base.hf_dir)},
        "hyperparameters": options.hyperparameters(),
        "seed": options.seed,
        "metrics": {
            "train_loss": [round(x, 6) for x in result.train_loss],
            "dev_loss": [round(x, 6) for x in result.dev_loss],
            "epoch_seconds": [round(x, 3) for x in result.epoch_seconds],
            "seconds_per_epoch_per_100_examples": round(seconds * 100 / max(n_train, 1), 3),
            "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
            "steps": result.steps, "tokens_trained": result.tokens_trained,
            "answer_tokens_trained": result.answer_tokens,
        },
        "outputs": {"peft_dir": PEFT_DIR, "gguf": GGUF_NAME, "modelfile": MODELFILE},
        "machine": machine,
    }


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    import json

    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _result(out_dir: Path, record: dict[str, Any]) -> TrainResult:
    metrics = record["metrics"]
    return TrainResult(
        out_dir=out_dir, peft_dir=out_dir / PEFT_DIR, gguf_path=out_dir / GGUF_NAME,
        modelfile=out_dir / MODELFILE, training_json=out_dir / TRAINING_JSON,
        train_loss=tuple(metrics["train_loss"]), dev_loss=tuple(metrics["dev_loss"]),
        wall_s=float(metrics["wall_s"]), tokens_trained=int(metrics["tokens_trained"]),
        peak_memory_bytes=int(metrics["peak_memory_bytes"]),
        adapter_bytes=int(record["adapter"]["gguf_bytes"]),
        base_digest=str(record["base"]["sha256"]), data_digest=str(record["data"]["digest"]),
        record=record)
