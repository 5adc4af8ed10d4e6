"""lora variants: which adapter form runs on which backend, and adapters for another base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends.base import ModelSpec
from harness.errors import UsageError
from harness.tasks import load_task
from harness.training.export import check_adapter_base
from harness.variants.lora import adapter_dir, resolve_adapter
from harness.variants.prompt import load_variant

BASE = "a" * 64
OTHER = "b" * 64


def gguf_lora(path: Path, base_digest: str | None, kind: str = "adapter") -> Path:
    """A minimal GGUF file with the metadata convert_lora_to_gguf.py writes."""
    gguf = pytest.importorskip("gguf")
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "gemma3")
    writer.add_type(kind)
    writer.add_string("adapter.type", "lora")
    if base_digest is not None:
        writer.add_string("general.base_model.0.name", "base.gguf")
        writer.add_string("general.base_model.0.description", "sha256:" + base_digest)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((2, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tunegate_dir(root: Path, base_digest: str) -> Path:
    """A tunegate train output directory (peft + GGUF + training.json)."""
    root.mkdir(parents=True)
    (root / "peft").mkdir()
    (root / "peft" / "adapter_config.json").write_text('{"r": 8}')
    (root / "peft" / "adapter_model.safetensors").write_bytes(b"weights")
    gguf_lora(root / "adapter.gguf", base_digest)
    (root / "training.json").write_text(json.dumps(
        {"base": {"name": "base.gguf", "sha256": base_digest},
         "outputs": {"gguf": "adapter.gguf", "peft_dir": "peft"}}))
    return root


@pytest.fixture
def base_gguf(tmp_path: Path) -> tuple[str, str]:
    """A stand-in base model file and its sha256 (embedded:PATH)."""
    import hashlib

    path = tmp_path / "base.gguf"
    path.write_bytes(b"pretend weights")
    return str(path), hashlib.sha256(b"pretend weights").hexdigest()


def lora_variant(project, adapter: str):  # type: ignore[no-untyped-def]
    project.write("lora.yaml", f"name: tuned\nkind: lora\ntemplate: echo.j2\nadapter: {adapter}\n")
    return load_variant(project.root / "lora.yaml")


def test_mismatched_base_is_refused_naming_both(tmp_path: Path) -> None:
    lora = gguf_lora(tmp_path / "x.gguf", OTHER)
    with pytest.raises(UsageError) as err:
        check_adapter_base(lora, BASE, "gemma-3-270m-q4_k_m.gguf")
    line = err.value.one_line()
    assert "base.gguf" in line and OTHER[:12] in line
    assert "gemma-3-270m-q4_k_m.gguf" in line and BASE[:12] in line
    assert check_adapter_base(lora, OTHER) == OTHER


def test_peft_directory_base_comes_from_training_json(tmp_path: Path) -> None:
    out = tunegate_dir(tmp_path / "ad", OTHER)
    with pytest.raises(UsageError, match="trained for base base.gguf"):
        check_adapter_base(out / "peft", BASE)
    assert check_adapter_base(out / "peft", OTHER) == OTHER


@pytest.mark.parametrize(("make", "words"), [
    (lambda p: p / "missing.gguf", "adapter not found"),
    (lambda p: (p / "junk.gguf").write_bytes(b"not a gguf at all") and p / "junk.gguf",
     "corrupt GGUF adapter"),
    (lambda p: gguf_lora(p / "model.gguf", BASE, kind="model"), "a model, not a LoRA adapter"),
    (lambda p: (p / "notes.txt").write_text("hi") and p / "notes.txt", "not an adapter"),
    (lambda p: p / "emptydir" if (p / "emptydir").mkdir() is None else None,
     "no adapter_config.json"),
])
def test_missing_or_corrupt_adapters_are_one_line(tmp_path: Path, make, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as err:
        check_adapter_base(make(tmp_path), BASE)
    assert words in err.value.one_line() and "\n" not in err.value.one_line()


def test_corrupt_adapter_config(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "adapter_config.json").write_text("{not json")
    with pytest.raises(UsageError, match="corrupt adapter file"):
        check_adapter_base(tmp_path / "p", BASE)


def test_tunegate_directory_gives_gguf_to_embedded(project, base_gguf) -> None:  # type: ignore[no-untyped-def]
    path, digest = base_gguf
    tunegate_dir(project.root / "ad", digest)
    task, variant = load_task(project.task), lora_variant(project, "ad")
    got = resolve_adapter(task, variant, ModelSpec("embedded", path), project.root / "store")
    assert got.spec == ModelSpec("embedded", path, str(project.root / "ad" / "adapter.gguf"))
    assert got.training is not None and got.training["base"]["sha256"] == digest


def test_adapter_for_another_base_is_refused_by_the_variant(project, base_gguf) -> None:  # type: ignore[no-untyped-def]
    path, _ = base_gguf
    tunegate_dir(project.root / "ad", OTHER)
    task, variant = load_task(project.task), lora_variant(project, "ad/adapter.gguf")
    with pytest.raises(UsageError) as err:
        resolve_adapter(task, variant, ModelSpec("embedded", path), project.root / "store")
    assert "base.gguf" in str(err.value) and OTHER[:12] in str(err.value)


@pytest.mark.parametrize(("adapter", "model", "words"), [
    ("ad/peft", ModelSpec("embedded"), "is a peft directory, which backend 'embedded'"),
    ("ad/adapter.gguf", ModelSpec("hf", "embedded"), "is a GGUF LoRA file, which backend 'hf'"),
    ("ad", ModelSpec("ollama", "gemma3"), "cannot load an adapter file"),
    ("ollama:routing", ModelSpec("embedded"), "runs on the ollama backend"),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", ModelSpec("embedded"), "runs on the openai backend"),
    ("ft:gpt-4o-mini-2024-07-18:acme::abc", ModelSpec("openai", "gpt-3.5-turbo"),
     "trained for base gpt-4o-mini-2024-07-18, not for gpt-3.5-turbo"),
])
def test_adapter_kind_must_fit_the_backend(project, adapter: str, model: ModelSpec,  # type: ignore[no-untyped-def]
                                           words: str) -> None:
    tunegate_dir(project.root / "ad", BASE)
    task, variant = load_task(project.task), lora_variant(project, adapter)
    with pytest.raises(UsageError) as err:
        resolve_adapter(task, variant, model, project.root / "store")
    assert words in str(err.value)


def test_remote_adapters_name_the_model(project) -> None:  # type: ignore[no-untyped-def]
    task = load_task(project.task)
    ollama = lora_variant(project, "ollama:routing-lora")
    got = resolve_adapter(task, ollama, ModelSpec("ollama", "gemma3:270m?host=http://h:1"),
                          project.root)
    assert got.spec == ModelSpec("ollama", "routing-lora?host=http://h:1")
    ft = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
    got = resolve_adapter(task, lora_variant(project, ft), ModelSpec("openai", "gpt-4o-mini"),
                          project.root)
    assert got.spec == ModelSpec("openai", "gpt-4o-mini", ft)


def test_missing_adapter_file_fails_at_load(project) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError, match="adapter not found"):
        lora_variant(project, "nowhere.gguf")


def test_trained_adapter_dir_depends_on_data_variant_and_base(project, edit) -> None:  # type: ignore[no-untyped-def]
    project.write("t.yaml", "name: t\nkind: lora\ntemplate: echo.j2\ntrain: {epochs: 1}\n")
    task, variant = load_task(project.task), load_variant(project.root / "t.yaml")
    one = adapter_dir(project.root, task, variant, BASE)
    assert one == adapter_dir(project.root, task, variant, BASE)
    assert one != adapter_dir(project.root, task, variant, OTHER)
    edit(project.root / "t.yaml", "epochs: 1", "epochs: 2")
    assert one != adapter_dir(project.root, task, load_variant(project.root / "t.yaml"), BASE)
