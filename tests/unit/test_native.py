"""llama.cpp's process-wide state: model loads in several threads never leave stdout silenced.

llama-cpp-python's ``Llama(verbose=False)`` points descriptors 1 and 2 at
/dev/null while it loads (``suppress_stdout_stderr``). Interleaved across
threads, one thread restores the other's /dev/null and the process prints
nothing more (``tunegate run ... 2>&1 | cat`` printed nothing). Every load
goes through ``harness.native.LLAMA.load``, one at a time.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from mixedkit import env

from harness.backends.base import BackendOptions
from harness.backends.embedded import EmbeddedBackend

pytest.importorskip("llama_cpp")

SCRIPT = textwrap.dedent("""
    import sys, threading, time
    from llama_cpp._utils import suppress_stdout_stderr
    from harness.native import LLAMA

    def build():  # what Llama(verbose=False) does around a model load
        with suppress_stdout_stderr(disable=False):
            time.sleep(0.01)

    gate = threading.Barrier(8)

    def worker():
        gate.wait()
        for _ in range(6):
            LLAMA.load(build)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("summary arrived on stdout", flush=True)
    print("and on stderr", file=sys.stderr, flush=True)
""")


def test_loads_in_eight_threads_leave_stdout_and_stderr_working(tmp_path: Path) -> None:
    # Unguarded, this loses both lines in most runs (checked by hand: 48 interleaved
    # redirects). Through a pipe, as `2>&1 | cat` does.
    done = subprocess.run([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=env(), cwd=tmp_path, timeout=120,
                          check=False)
    out = done.stdout.decode()
    assert done.returncode == 0, out
    assert out.splitlines() == ["summary arrived on stdout", "and on stderr"]


def test_one_backend_loads_its_model_once_from_many_threads(monkeypatch, tmp_path) -> None:
    import llama_cpp

    built: list[int] = []

    class SlowLlama:
        def __init__(self, **kwargs: object) -> None:
            time.sleep(0.05)  # a load takes a while: the other threads arrive meanwhile
            built.append(threading.get_ident())

    monkeypatch.setattr(llama_cpp, "Llama", SlowLlama)
    backend = EmbeddedBackend(tmp_path / "m.gguf", "digest", None, BackendOptions())
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(backend.llm)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1  # before: every thread that found no model loaded its own
    assert len(seen) == 6 and all(m is seen[0] for m in seen)
