"""The ollama backend through the real ollama client against a loopback Ollama stand-in.

No Ollama binary can be installed here, so :class:`http_stubs.OllamaStandIn`
implements ``/api/show``, ``/api/tags``, ``/api/generate`` and ``/api/chat``
with the documented shapes, backed by the embedded GGUF in llama-cpp-python.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.backends.base import BackendOptions, GenRequest, create, parse_spec
from harness.cli import main
from harness.modelfiles import embedded_gguf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_stubs import Loopback, OllamaStandIn  # noqa: E402

pytestmark = pytest.mark.integration
pytest.importorskip("ollama")


@pytest.fixture(scope="module")
def standin() -> Iterator[Loopback]:
    from llama_cpp import Llama

    path, digest = embedded_gguf()
    llm = Llama(model_path=str(path), n_ctx=2048, verbose=False, seed=0)
    lock = threading.Lock()

    def complete(prompt: str, options: dict[str, Any]) -> tuple[str, int, int, str]:
        temp = float(options.get("temperature", 0.8))
        with lock:
            res: Any = llm.create_completion(
                prompt, max_tokens=int(options.get("num_predict", 128)), temperature=temp,
                stop=options.get("stop") or None, seed=int(options.get("seed", 0)),
                top_k=0 if temp == 0 else 40)
        usage, choice = res["usage"], res["choices"][0]
        return (choice["text"], usage["prompt_tokens"], usage["completion_tokens"],
                choice["finish_reason"] or "stop")

    stand = OllamaStandIn({"gemma-routing:latest": f"sha256:{digest}"}, complete)
    with Loopback(stand) as srv:
        yield srv
    llm.close()


def test_generations_equal_the_embedded_backend(standin: Loopback) -> None:
    remote = create(parse_spec(f"ollama:gemma-routing?host={standin.url}"), BackendOptions())
    local = create(parse_spec("embedded"), BackendOptions())
    try:
        for word in ("banana", "tiger", "crimson"):
            req = GenRequest(f"Word: {word}\nCategory:", max_tokens=6, stop=("\n",))
            a, b = local.generate(req), remote.generate(req)
            assert (a.text, a.prompt_tokens, a.completion_tokens) == \
                (b.text, b.prompt_tokens, b.completion_tokens)
    finally:
        remote.close()
        local.close()


def test_a_run_generates_and_records_tokens(standin: Loopback, easy_dir: Path) -> None:
    (easy_dir / "ollama.yaml").write_text(
        "name: ollama-run\nseed: 3\ntasks: [easy.yaml]\nvariants: [few_shot.yaml]\n"
        f"models: ['ollama:gemma-routing?host={standin.url}']\nsplits: [test]\n"
        "limit: {test: 9}\n")
    args = ["run", str(easy_dir / "ollama.yaml"), "--store", str(easy_dir / "store"),
            "--reports", str(easy_dir / "reports")]
    assert main(args) == 0
    db = sqlite3.connect(easy_dir / "store" / "store.sqlite")
    rows = db.execute("SELECT prompt_tokens, completion_tokens, output, scores FROM records"
                      ).fetchall()
    assert len(rows) == 9 and all(r[0] > 20 and r[1] > 0 for r in rows)
    assert {json.loads(r[2])["detail"]["mode"] for r in rows} == {"generate"}
    correct = sum(json.loads(r[3])["label_accuracy"]["value"] for r in rows)
    # Few-shot on an easy task, generated and strictly matched: well above chance
    # (3 of 9) for this seeded draw of six shots.
    assert correct >= 5


def test_missing_model_exits_2_with_the_ollama_create_hint(
        standin: Loopback, easy_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (easy_dir / "missing.yaml").write_text(
        "name: missing\ntasks: [easy.yaml]\nvariants: [few_shot.yaml]\n"
        f"models: ['ollama:routing-ft?host={standin.url}']\nsplits: [test]\n")
    assert main(["run", str(easy_dir / "missing.yaml"), "--store", str(easy_dir / "s")]) == 2
    err = capsys.readouterr().err
    assert "ollama create routing-ft -f Modelfile" in err and "gemma-routing" in err
