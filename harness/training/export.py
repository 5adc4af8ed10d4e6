"""What an adapter carries with it: its base model's identity, a Modelfile, checks.

Adapters are silently wrong on another base model (a real and common
mistake), so every adapter records the SHA-256 of the base it was trained
for: ``training.json`` holds it, the peft directory's model card lists it
under ``base_model``, and ``convert_lora_to_gguf.py`` copies that card
entry into the GGUF LoRA's ``general.base_model.0.*`` metadata.
:func:`check_adapter_base` reads it back from either form and refuses a
mismatch, naming both bases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.modelcache import file_digest

TRAINING_JSON = "training.json"
_DIGEST_PREFIX = "sha256:"


@dataclass(frozen=True)
class BaseModel:
    """The model an adapter is trained on.

    Attributes:
        spec: The model spec it came from (``embedded``, ``hf:PATH``...).
        name: A readable name (the GGUF file name or HF directory name).
        digest: SHA-256 identifying the weights (of the GGUF when there is one).
        hf_dir: The Hugging Face directory training loads.
        gguf: The GGUF base for llama.cpp / Ollama, when there is one.
    """

    spec: str
    name: str
    digest: str
    hf_dir: Path
    gguf: Path | None = None


def hf_model_digest(path: Path) -> str:
    """The digest that identifies an HF model directory.

    A directory tunegate unpacked from a GGUF is identified by that GGUF's
    SHA-256 (so an adapter trained on the embedded model also matches
    ``hf:`` on its unpacked copy); any other by a SHA-256 over its config
    and weight files' digests.
    """
    import hashlib

    from harness.training.unpack import MARKER

    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
        if isinstance(marker, dict) and isinstance(marker.get("sha256"), str):
            return str(marker["sha256"])
    except (OSError, ValueError):
        pass
    h = hashlib.sha256()
    files = sorted(p for p in path.iterdir() if p.name == "config.json"
                   or p.suffix in (".safetensors", ".bin"))
    for file in files:
        h.update(f"{file.name}:{file_digest(file)}\n".encode())
    return h.hexdigest()


def write_model_card(peft_dir: Path, base: BaseModel, data_digest: str) -> None:
    """Replace peft's README with a card whose ``base_model`` entry names the base's digest."""
    card = (
        "---\n"
        "base_model:\n"
        f"- name: {json.dumps(base.name)}\n"
        f"  description: {json.dumps(_DIGEST_PREFIX + base.digest)}\n"
        "library_name: peft\n"
        "tags: [lora, tunegate]\n"
        "---\n\n"
        "# LoRA adapter trained by tunegate\n\n"
        f"- base model: {base.name} (sha256 {base.digest})\n"
        f"- training data digest: {data_digest}\n"
        "- training run: see training.json next to this directory\n")
    (peft_dir / "README.md").write_text(card, encoding="utf-8")


def write_modelfile(path: Path, base: BaseModel, adapter_name: str) -> None:
    """An Ollama Modelfile: ``FROM`` the base, ``ADAPTER`` the GGUF LoRA beside it."""
    source = base.gguf if base.gguf is not None else base.hf_dir
    path.write_text(f"# LoRA adapter for {base.name} (sha256 {base.digest}), by tunegate\n"
                    f"FROM {source}\nADAPTER ./{adapter_name}\n", encoding="utf-8")


def check_adapter_base(adapter_path: str | Path, base_digest: str,
                       base_name: str | None = None) -> str | None:
    """Refuse an adapter that was trained for a different base model.

    Args:
        adapter_path: A peft adapter directory or a GGUF LoRA file.
        base_digest: SHA-256 of the base it is about to be loaded on.
        base_name: That base's readable name, for the message.

    Returns:
        The base digest the adapter records, or ``None`` when it records none
        (an adapter not made by tunegate): nothing to compare.

    Raises:
        UsageError: The adapter is missing, unreadable, not an adapter, or was
            trained for another base (the message names both).
    """
    path = Path(adapter_path).expanduser()
    if not path.exists():
        raise UsageError(f"adapter not found: {path}")
    recorded = _recorded_base(path)
    if recorded is None:
        return None
    name, digest = recorded
    if _norm(digest) != _norm(base_digest):
        here = base_name or "the base it is being loaded on"
        raise UsageError(
            f"adapter was trained for base {name} (sha256 {_norm(digest)[:12]}), not for "
            f"{here} (sha256 {_norm(base_digest)[:12]})", path,
            hint="evaluate it with the base it was trained for, or retrain it (tunegate train)")
    return _norm(digest)


def _norm(digest: str) -> str:
    text = digest.strip().lower()
    return text[len(_DIGEST_PREFIX):] if text.startswith(_DIGEST_PREFIX) else text


def _recorded_base(path: Path) -> tuple[str, str] | None:
    if path.is_dir():
        return _peft_base(path)
    if path.suffix.lower() == ".gguf":
        return _gguf_base(path) or _sidecar_base(path.parent, path.name)
    raise UsageError("not an adapter: expected a peft directory or a .gguf LoRA file", path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise UsageError(f"corrupt adapter file: {exc}", path) from None
    if not isinstance(data, dict):
        raise UsageError("corrupt adapter file: expected a JSON object", path)
    return data


def _peft_base(path: Path) -> tuple[str, str] | None:
    config = _read_json(path / "adapter_config.json")
    if config is None:
        raise UsageError("not a peft adapter directory (no adapter_config.json)", path)
    base_path = str(config.get("base_model_name_or_path") or "")
    for folder in (path, path.parent):
        found = _sidecar_base(folder, None)
        if found is not None:
            return found
    if base_path and Path(base_path).is_dir():
        from harness.training.unpack import MARKER

        marker = _read_json(Path(base_path) / MARKER)
        if marker is not None and isinstance(marker.get("sha256"), str):
            return Path(str(marker.get("source", base_path))).name, str(marker["sha256"])
    return None


def _sidecar_base(folder: Path, gguf_name: str | None) -> tuple[str, str] | None:
    record = _read_json(folder / TRAINING_JSON)
    if record is None:
        return None
    outputs = record.get("outputs", {})
    if gguf_name is not None and isinstance(outputs, dict) and outputs.get("gguf") != gguf_name:
        return None
    base = record.get("base", {})
    if isinstance(base, dict) and isinstance(base.get("sha256"), str):
        return str(base.get("name", "?")), str(base["sha256"])
    return None


def _gguf_base(path: Path) -> tuple[str, str] | None:
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    try:
        reader = GGUFReader(str(path))
        fields = {key: reader.fields[key].contents() for key in reader.fields
                  if key.startswith(("general.", "adapter."))}
    except Exception as exc:  # the reader raises many kinds on a corrupt file
        raise UsageError(f"corrupt GGUF adapter: {exc}", path) from None
    if fields.get("general.type") != "adapter":
        raise UsageError("this GGUF is a model, not a LoRA adapter "
                         f"(general.type {fields.get('general.type')!r})", path)
    desc = fields.get("general.base_model.0.description")
    if isinstance(desc, str) and desc.startswith(_DIGEST_PREFIX):
        return str(fields.get("general.base_model.0.name", "?")), desc
    return None
