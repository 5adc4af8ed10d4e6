"""Constraints through the openai backend against a real ``python -m llama_cpp.server``.

``structured=llamacpp`` sends a GBNF ``grammar`` in the request body, which
the llama.cpp server accepts on both the completions and the chat endpoint.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions, GenRequest, create, parse_spec
from harness.backends.constrain import Constraint
from harness.modelfiles import embedded_gguf
from harness.tasks import load_task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llama_server import ALIAS, LlamaServer, server_available  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not server_available(),
                                 reason="needs llama-cpp-python[server] (fastapi, uvicorn, ...)")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    srv = LlamaServer(embedded_gguf()[0], log=tmp_path_factory.mktemp("s") / "server.log")
    try:
        yield srv.wait()
    finally:
        srv.stop()


def test_grammar_constraints_on_both_endpoints(server: LlamaServer) -> None:
    task = load_task(ROOT / "tasks/support_routing.yaml")
    labels = list(task.spec.labels)  # type: ignore[union-attr]
    spec = (f"openai:{ALIAS}?base_url={server.url}&logprobs=false&structured=llamacpp"
            '&extra_body={"repeat_penalty": 1.0}')
    completions = create(parse_spec(spec), BackendOptions())
    chat = create(parse_spec(spec + "&endpoint=chat"), BackendOptions())
    try:
        assert completions.capabilities.constrain == frozenset({"schema", "labels", "regex"})
        ex = task.split("test")[0]
        out = completions.generate(GenRequest(f"Text: {ex.input}\nLabel:", max_tokens=8,
                                              constraint=Constraint.for_labels(labels)))
        assert out.text.strip() in labels, out.text
        schema = {"type": "object", "properties": {"queue": {"enum": labels},
                                                   "urgent": {"type": "boolean"}},
                  "required": ["queue", "urgent"], "additionalProperties": False}
        reply = chat.generate(GenRequest(f"Route this message: {ex.input}", max_tokens=40,
                                         constraint=Constraint.for_schema(schema)))
        value = json.loads(reply.text)
        assert value["queue"] in labels and isinstance(value["urgent"], bool)
    finally:
        completions.close()
        chat.close()
