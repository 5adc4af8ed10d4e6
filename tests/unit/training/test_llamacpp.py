"""Obtaining llama.cpp's convert_lora_to_gguf.py: sdist extraction and the override variable."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.training.llamacpp import SRC_ENV, extract_vendor, is_source, llama_cpp_source

VENDOR = "llama_cpp_python-0.3.36/vendor/llama.cpp/"


def fake_sdist(path: Path, with_script: bool = True) -> Path:
    files = {VENDOR + "gguf-py/gguf/__init__.py": "", VENDOR + "conversion/__init__.py": "",
             VENDOR + "LICENSE": "MIT", VENDOR + "ggml/src/big.c": "int x;",
             "llama_cpp_python-0.3.36/llama_cpp/llama.py": ""}
    if with_script:
        files[VENDOR + "convert_lora_to_gguf.py"] = "print('hi')"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_extract_keeps_only_the_python_parts(tmp_path: Path) -> None:
    dest = extract_vendor(fake_sdist(tmp_path / "s.tar.gz"), tmp_path / "src")
    assert is_source(dest)
    assert (dest / "conversion" / "__init__.py").is_file() and (dest / "LICENSE").is_file()
    assert not (dest / "ggml").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_sdist_without_the_script_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="convert_lora_to_gguf.py"):
        extract_vendor(fake_sdist(tmp_path / "s.tar.gz", with_script=False), tmp_path / "src")
    assert not (tmp_path / "src").exists()


def test_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEGATE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(SRC_ENV, str(tmp_path / "nothing"))
    with pytest.raises(UsageError, match="not a llama.cpp source directory"):
        llama_cpp_source()
    monkeypatch.setenv(SRC_ENV, str(fake_sdist(tmp_path / "s.tar.gz")))
    got = llama_cpp_source()
    assert got == tmp_path / "cache" / "llama.cpp-0.3.36" and is_source(got)
    monkeypatch.setenv(SRC_ENV, str(got))
    assert llama_cpp_source() == got
