"""llama.cpp's ``convert_lora_to_gguf.py``: obtain it once, run it as a subprocess.

The script (with the ``conversion`` package it imports and the ``gguf-py``
it bundles) ships in the llama-cpp-python sdist under ``vendor/llama.cpp``;
the wheel does not carry it. The sdist of the pinned version is fetched with
pip's own client, only the Python parts of ``vendor/llama.cpp`` (about 2 MB)
are extracted into the model cache, and the download is dropped. Set
``TUNEGATE_LLAMA_CPP_SRC`` to a ``vendor/llama.cpp`` directory (or to the
sdist) where pip cannot reach an index.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from harness.errors import UsageError
from harness.modelcache import cache_dir

LLAMA_CPP_VERSION = "0.3.36"
SRC_ENV = "TUNEGATE_LLAMA_CPP_SRC"
SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_VERSION}.tar.gz"
_VENDOR = f"llama_cpp_python-{LLAMA_CPP_VERSION}/vendor/llama.cpp/"
_KEEP_DIRS = ("gguf-py/", "conversion/")
_HINT = (f"download {SDIST_NAME} (pip download --no-deps --no-binary :all: "
         f"llama-cpp-python=={LLAMA_CPP_VERSION}) and set {SRC_ENV} to it or to its "
         "extracted vendor/llama.cpp directory")


def is_source(path: Path) -> bool:
    """Whether ``path`` holds ``convert_lora_to_gguf.py`` and its ``gguf-py``."""
    return (path / "convert_lora_to_gguf.py").is_file() and (path / "gguf-py" / "gguf").is_dir()


def llama_cpp_source(progress: Callable[[str], None] | None = None) -> Path:
    """The ``vendor/llama.cpp`` directory to convert with, fetching it on first use.

    Raises:
        UsageError: ``TUNEGATE_LLAMA_CPP_SRC`` is wrong, or the sdist cannot be
            downloaded (the message says how to provide it).
    """
    dest = cache_dir() / f"llama.cpp-{LLAMA_CPP_VERSION}"
    env = os.environ.get(SRC_ENV)
    if env:
        given = Path(env).expanduser()
        if given.is_file() and given.name.endswith((".tar.gz", ".tgz")):
            return dest if is_source(dest) else extract_vendor(given, dest)
        for candidate in (given, given / "vendor" / "llama.cpp"):
            if is_source(candidate):
                return candidate
        raise UsageError(f"{SRC_ENV}={given} is not a llama.cpp source directory",
                         hint="point it at vendor/llama.cpp of the llama-cpp-python "
                         f"{LLAMA_CPP_VERSION} sdist (with convert_lora_to_gguf.py and gguf-py/)")
    if is_source(dest):
        return dest
    if progress is not None:
        progress(f"fetching llama.cpp's convert_lora_to_gguf.py (llama-cpp-python "
                 f"{LLAMA_CPP_VERSION} sdist, once)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".sdist-") as tmp:
        return extract_vendor(download_sdist(Path(tmp)), dest)


def download_sdist(into: Path) -> Path:
    """Fetch the pinned llama-cpp-python sdist into ``into`` with pip.

    pip prepares the sdist's metadata, which needs its build backend
    (scikit-build-core): without build isolation when that is installed,
    else in pip's isolated build environment.

    Raises:
        UsageError: pip could not download it (offline, no index).
    """
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", f"llama-cpp-python=={LLAMA_CPP_VERSION}",
            "-d", str(into)]
    attempts = [base + ["--no-build-isolation"], base]
    if importlib.util.find_spec("scikit_build_core") is None:
        attempts.reverse()
    error = ""
    for cmd in attempts:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            error = str(exc)
            continue
        if done.returncode == 0 and (into / SDIST_NAME).is_file():
            return into / SDIST_NAME
        error = _last_line(done.stderr or done.stdout)
    raise UsageError(f"cannot download the llama-cpp-python {LLAMA_CPP_VERSION} sdist "
                     f"(for convert_lora_to_gguf.py): {error}", hint=_HINT)


def extract_vendor(sdist: Path, dest: Path) -> Path:
    """Extract the Python parts of ``vendor/llama.cpp`` from ``sdist`` into ``dest``.

    Written under a temporary name and renamed, so ``dest`` is complete or absent.

    Raises:
        UsageError: The file is not the llama-cpp-python sdist.
    """
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with tarfile.open(sdist) as archive:
            members = _vendor_members(archive)
            if not members:
                raise UsageError(f"{sdist} holds no {_VENDOR}convert_lora_to_gguf.py",
                                 hint=_HINT)
            archive.extractall(tmp, members=members, filter="data")
        if not is_source(tmp):
            raise UsageError(f"{sdist} lacks convert_lora_to_gguf.py or gguf-py", hint=_HINT)
        if not is_source(dest):
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(tmp, dest)
    except (OSError, tarfile.TarError) as exc:
        raise UsageError(f"cannot extract {sdist}: {exc}", hint=_HINT) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _vendor_members(archive: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = []
    for member in archive.getmembers():
        if not member.name.startswith(_VENDOR) or not (member.isfile() or member.isdir()):
            continue
        rel = member.name[len(_VENDOR):]
        top_py = "/" not in rel and rel.endswith(".py")
        if top_py or rel.startswith(_KEEP_DIRS) or rel == "LICENSE":
            member.name = rel
            members.append(member)
    return members


def convert_lora(source: Path, base_dir: Path, peft_dir: Path, outfile: Path) -> None:
    """Run ``convert_lora_to_gguf.py`` on a peft adapter (f32 output).

    Args:
        source: The ``vendor/llama.cpp`` directory.
        base_dir: The base model's HF directory (only its config is read).
        peft_dir: The peft adapter directory.
        outfile: The GGUF LoRA file to write.

    Raises:
        UsageError: The script failed (for example, an architecture llama.cpp
            does not support); the message carries its last error line.
    """
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(source / "gguf-py")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("HF_HUB_OFFLINE", "1")
    cmd = [sys.executable, str(source / "convert_lora_to_gguf.py"), "--base", str(base_dir),
           "--outfile", str(outfile), "--outtype", "f32", str(peft_dir)]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800,
                              check=False)
    except subprocess.TimeoutExpired:
        raise UsageError("convert_lora_to_gguf.py did not finish in 30 minutes") from None
    if done.returncode != 0 or not outfile.is_file():
        raise UsageError("converting the adapter to GGUF failed: "
                         + _last_line(done.stderr or done.stdout), source /
                         "convert_lora_to_gguf.py")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1][:400]
