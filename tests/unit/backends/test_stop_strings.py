"""One meaning of a stop list on every backend: the text ends before the earliest stop string.

Issue 18 case 4b: a task with five stop strings on the ``openai`` backend.
The OpenAI API takes at most four; tunegate sent the first four and the
fifth (`` (``) never applied, so an answer that should score 1.0 scored 0.0.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("openai")
pytest.importorskip("ollama")

from http_stubs import Loopback, OllamaStandIn, completion_reply, models_reply  # noqa: E402

from harness.backends.base import (  # noqa: E402
    BackendOptions,
    GenRequest,
    GenResponse,
    create,
    cut_at_stop,
    parse_spec,
)
from harness.client import CachedModel  # noqa: E402
from harness.config import load_config  # noqa: E402
from harness.runner import Runner  # noqa: E402
from harness.store import Store  # noqa: E402

FIVE = ("\n", ".", ";", "!", " (")
ANSWER = "Pallet Over Dimension (POD)\nThanks!"


def test_cut_at_stop_by_hand() -> None:
    # Earliest occurrence of ANY stop string wins, whatever its place in the list:
    # " (" is at index 21, "\n" at 27, "!" at 34, "." nowhere.
    assert cut_at_stop(ANSWER, FIVE) == ("Pallet Over Dimension", True)
    assert cut_at_stop("a;b.c", (".", ";")) == ("a", True)
    assert cut_at_stop("no stop here", FIVE) == ("no stop here", False)
    assert cut_at_stop("kept", ("", "x")) == ("kept", False)  # "" never cuts everything


@given(st.text(alphabet="ab(; \n", max_size=30),
       st.lists(st.text(alphabet="ab(; \n", min_size=1, max_size=3), max_size=6))
def test_cut_at_stop_is_the_longest_prefix_free_of_every_stop(text: str, stop: list[str]
                                                               ) -> None:
    out, cut = cut_at_stop(text, stop)
    assert text.startswith(out)
    assert cut == any(s in text for s in stop)
    # No stop string starts inside the kept part (only a cut could end it).
    assert not any(text.find(s) >= 0 and text.find(s) < len(out) for s in stop)
    if cut:
        assert any(text[len(out):].startswith(s) for s in stop)
    assert cut_at_stop(out, stop) == (out, False)  # idempotent


def _openai_server(seen: list[Any]) -> Any:
    """An OpenAI-like server: applies the stop strings it is sent, as the API does."""
    def handle(method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        if path == "/v1/models":
            return models_reply("m")
        seen.append(body)
        text, _ = cut_at_stop(ANSWER, body.get("stop") or ())
        return completion_reply(text, 9, 7)
    return handle


def test_openai_sends_four_and_applies_all_five(caplog: pytest.LogCaptureFixture,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    caplog.set_level(logging.INFO, logger="harness.backends.openai_backend")
    seen: list[Any] = []
    with Loopback(_openai_server(seen)) as srv:
        b = create(parse_spec(f"openai:m?base_url={srv.url}/v1&logprobs=false"),
                   BackendOptions())
        resp = b.generate(GenRequest("Expand POD:", max_tokens=16, stop=FIVE))
        b.generate(GenRequest("Expand POD again:", max_tokens=16, stop=FIVE))
        b.close()
    # The server applied "\n", ".", ";", "!" -> "Pallet Over Dimension (POD)";
    # the client cut at the fifth, " (" -> "Pallet Over Dimension".
    assert seen[0]["stop"] == ["\n", ".", ";", "!"]
    assert (resp.text, resp.finish_reason, resp.completion_tokens) == (
        "Pallet Over Dimension", "stop", 7)
    said = [r for r in caplog.records if "the API takes 4" in r.getMessage()]
    assert len(said) == 1  # once per run, not per request


def test_ollama_and_fake_cut_the_same_way() -> None:
    stand = OllamaStandIn({"m": "sha256:1"}, lambda prompt, options: (ANSWER, 3, 9, "stop"))
    with Loopback(stand) as srv:
        b = create(parse_spec(f"ollama:m?host={srv.url}"), BackendOptions())
        resp = b.generate(GenRequest("Expand POD:", stop=FIVE))
        b.close()
    assert resp.text == "Pallet Over Dimension" and stand.seen[-1].body["options"]["stop"] == \
        list(FIVE)
    fake = create(parse_spec("fake:keyword"), BackendOptions())
    # The fake answers the last capitalised word, "ORCA"; "RC" cuts it to "O".
    assert fake.generate(GenRequest("say ORCA", stop=("x", "RC"))).text == "O"


def test_a_response_cached_uncut_is_read_cut(tmp_path: Path) -> None:
    """A response stored before every stop string applied reads the same as a new one."""
    class Uncut:
        capabilities = create(parse_spec("fake:keyword"), BackendOptions()).capabilities
        identity = {"backend": "uncut", "model": "m", "adapter": None}

        def generate(self, request: GenRequest) -> GenResponse:
            return GenResponse(ANSWER, 3, 9)

    model = CachedModel(Uncut(), Store(tmp_path))  # type: ignore[arg-type]
    request = GenRequest("Expand POD:", stop=FIVE)
    fresh, _ = model.generate(request)
    cached, usage = model.generate(request)
    assert usage.cached and fresh.text == cached.text == "Pallet Over Dimension"


TASK = """\
name: acr
family: terminology
description: Expand the house acronym.
mode: expansion
glossary: glossary.yaml
data:
  columns: {id: id, input: text, target: long_form}
  files: {train: train.jsonl, dev: dev.jsonl, test: test.jsonl}
generation: {max_tokens: 16, stop: ["\\n", ".", ";", "!", " ("]}
metric: expansion_accuracy
"""


def _row(i: int) -> str:
    return json.dumps({"id": f"p{i}", "text": f"Note: POD on trailer {i}. Expand POD.",
                       "long_form": "Pallet Over Dimension"}) + "\n"


def test_five_stop_strings_on_openai_score_like_the_task_says(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    (tmp_path / "glossary.yaml").write_text(
        "glossary:\n  - {acronym: POD, expansion: Pallet Over Dimension}\n")
    for split, ids in (("train", (0, 1)), ("dev", (2, 3)), ("test", (4, 5, 6))):
        (tmp_path / f"{split}.jsonl").write_text("".join(_row(i) for i in ids))
    (tmp_path / "task.yaml").write_text(TASK)
    (tmp_path / "v.j2").write_text("{{ input }}\nLong form:")
    (tmp_path / "v.yaml").write_text("name: v\ntemplate: v.j2\n")
    seen: list[Any] = []
    with Loopback(_openai_server(seen)) as srv:
        (tmp_path / "run.yaml").write_text(
            f"name: r\ntasks: [task.yaml]\nvariants: [v.yaml]\n"
            f"models: ['openai:m?base_url={srv.url}/v1&logprobs=false']\n")
        store = Store(tmp_path / "store")
        result = Runner(load_config(tmp_path / "run.yaml"), store, BackendOptions()).run()
        recs = list(store.records(result.run_id))
        store.close()
    # Every answer is exactly the gold long form once " (" applies: 1.0 each (it was 0.0).
    assert len(recs) == 5 and result.errors == 0
    assert {r.output["text"] for r in recs} == {"Pallet Over Dimension"}
    assert [r.scores["expansion_accuracy"]["value"] for r in recs] == [1.0] * 5
