"""One example longer than the context never stops a run (issue 14 case 7).

The fake backend with ``?n_ctx=N`` enforces a context of N whitespace tokens
exactly as the local models do (one :class:`ContextWindow`), so the runner,
the report and ``estimate`` are tested here without model weights.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions, GenRequest, ModelSpec, create, parse_spec
from harness.backends.context import (
    ContextWindow,
    gguf_context_length,
    hf_context_length,
    n_ctx_option,
)
from harness.cli import main
from harness.config import load_config
from harness.errors import ExampleError, UsageError
from harness.runner import STOP_AFTER_FAILURES, Runner
from harness.store import Store
from tests.unit.resultskit import results_json

# Whitespace tokens of the toy prompt "Message: {input}\nAnswer:" for a long input:
# "Message:" + 100 input words + "Answer:" = 102, + 1 BOS = 103, + the label " ALPHA"
# (1 token) = 104 > 64. A short input "te message 0 is about ALPHA" (6 words) needs
# 1 + 6 + 1 + 1 + 1 = 10.
LONG = "te message 2 is about ALPHA " + "filler " * 94
LONG_TOKENS = 104


def _long_test_row(project, texts: dict[int, str]) -> Path:
    rows = []
    for i, (gold, named) in enumerate([("ALPHA", "ALPHA"), ("BETA", "BETA"), ("ALPHA", "ALPHA"),
                                       ("BETA", "BETA"), ("ALPHA", "BETA"), ("BETA", "ALPHA")]):
        rows.append({"id": f"te{i}", "text": texts.get(i, f"te message {i} is about {named}"),
                     "label": gold})
    path = project.data / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_an_over_long_example_is_recorded_and_the_run_goes_on(project, edit, tmp_path):
    test_file = _long_test_row(project, {2: LONG})
    edit(project.config, "fake:keyword", "fake:keyword?n_ctx=64")
    store = Store(tmp_path / "s")
    first = Runner(load_config(project.config), store, BackendOptions()).run()
    # All 10 examples are recorded; only te2 (line 3 of test.jsonl) failed, the rest scored.
    assert (first.records, first.errors) == (10, 1)
    recs = {r.example_id: r for r in store.records(first.run_id)}
    assert recs["te2"].error == (
        f"{test_file}:3: example te2: prompt + label is {LONG_TOKENS} tokens, more than the "
        "context (64) (raise the context: fake:keyword?n_ctx=128, or shorten the input)")
    assert all(r.error is None for k, r in recs.items() if k != "te2")
    assert recs["te3"].scores["label_accuracy"]["value"] == 1.0  # rows after it ran
    assert store.get_run(first.run_id).status == "incomplete"
    # The report counts it: 5 of 6 test examples scored, 1 error.
    res = results_json(store.get_run(first.run_id), list(store.records(first.run_id)))
    (variant,) = res["tasks"][0]["variants"]
    assert (variant["n"], variant["errors"]) == (5, 1)
    # A resume tries only the failed example again, records it again, and finishes.
    again = Runner(load_config(project.config), store, BackendOptions()).run()
    assert (again.resumed, again.skipped, again.records, again.errors) == (True, 9, 1, 1)
    store.close()


def test_a_larger_context_lets_it_run(project, edit, tmp_path):
    _long_test_row(project, {2: LONG})
    edit(project.config, "fake:keyword", "fake:keyword?n_ctx=128")
    store = Store(tmp_path / "s")
    result = Runner(load_config(project.config), store, BackendOptions()).run()
    store.close()
    assert (result.records, result.errors) == (10, 0)


def test_when_the_first_examples_all_fail_the_run_stops_with_the_cause(project, edit, tmp_path):
    for split, prefix in (("dev", "dv"), ("test", "te")):
        rows = [{"id": f"{prefix}{i}", "text": LONG, "label": "ALPHA"} for i in range(6)]
        (project.data / f"{split}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    edit(project.config, "fake:keyword", "fake:keyword?n_ctx=64")
    store = Store(tmp_path / "s")
    with pytest.raises(UsageError) as info:
        Runner(load_config(project.config), store, BackendOptions()).run()
    (run,) = store.runs()
    failed = [r for r in store.records(run.run_id) if r.error is not None]
    store.close()
    assert not isinstance(info.value, ExampleError)
    assert f"toy/echo: the first {STOP_AFTER_FAILURES} examples all failed" in info.value.message
    assert "more than the context (64)" in info.value.message
    assert len(failed) == STOP_AFTER_FAILURES == 8


def test_a_template_that_fails_on_one_input_fails_that_example_only(project, edit, tmp_path):
    _long_test_row(project, {4: "te message 4 is odd"})
    project.write("echo.j2", "{% if 'odd' in input %}{{ nope }}{% endif %}"
                  "Message: {{ input }}\nAnswer:")
    store = Store(tmp_path / "s")
    result = Runner(load_config(project.config), store, BackendOptions()).run()
    recs = {r.example_id: r for r in store.records(result.run_id)}
    store.close()
    assert (result.records, result.errors) == (10, 1)
    assert recs["te4"].error is not None
    assert recs["te4"].error.startswith(f"{project.data / 'test.jsonl'}:5: example te4: ")
    assert "echo.j2:1: template error: 'nope' is undefined" in recs["te4"].error


def test_estimate_lists_the_examples_that_do_not_fit(project, edit, tmp_path, capsys):
    test_file = _long_test_row(project, {2: LONG})
    edit(project.config, "fake:keyword", "fake:keyword?n_ctx=64")
    assert main(["estimate", str(project.config), "--store", str(tmp_path / "s")]) == 0
    out = capsys.readouterr().out
    assert "1 examples do not fit the model's context" in out
    assert (f"  {test_file}:3: task toy, example te2: {LONG_TOKENS} tokens, context 64 "
            "(variant echo, model fake:keyword?n_ctx=64)") in out


def test_n_ctx_option_is_checked_against_what_the_model_supports():
    assert n_ctx_option(None, 2048, 32768, "embedded") == 2048
    assert n_ctx_option(None, 2048, 1024, "embedded") == 1024  # never more than it supports
    assert n_ctx_option("8192", 2048, 32768, "embedded") == 8192
    assert n_ctx_option("32768", 2048, 32768, "embedded") == 32768
    with pytest.raises(UsageError) as info:
        n_ctx_option("32769", 2048, 32768, "embedded")
    assert info.value.one_line() == ("embedded: n_ctx=32769 is more than this model supports "
                                     "(32768 tokens) (use n_ctx=32768 or less)")
    with pytest.raises(UsageError, match="not a whole number"):
        n_ctx_option("8k", 2048, None, "fake")
    with pytest.raises(UsageError, match="too small"):
        n_ctx_option("8", 2048, None, "fake")


def test_model_specs_carry_options_and_print_back_the_same():
    for text, parsed in (("embedded?n_ctx=8192", ModelSpec("embedded", "?n_ctx=8192")),
                         ("embedded:q8_0?n_ctx=4096", ModelSpec("embedded", "q8_0?n_ctx=4096")),
                         ("embedded", ModelSpec("embedded", "")),
                         ("fake:keyword?n_ctx=64", ModelSpec("fake", "keyword?n_ctx=64"))):
        assert parse_spec(text) == parsed and str(parsed) == text
    with pytest.raises(UsageError, match="needs a model"):
        parse_spec("fake?n_ctx=64")
    with pytest.raises(UsageError, match="unknown option 'ctx'"):
        create(parse_spec("fake:keyword?ctx=64"), BackendOptions())


def test_the_hint_names_a_context_that_fits():
    window = ContextWindow(2048, 32768, "embedded")
    # The input: 13,900 tokens + BOS + max_tokens 32 = 13,933 -> the next power of
    # two, 16384, is within what gemma-3-270m supports (32768).
    assert window.hint(13933) == "raise the context: embedded?n_ctx=16384, or shorten the input"
    assert window.hint(40000) == "longer than this model supports (32768): shorten the input"
    assert ContextWindow(64, None, "fake:keyword").hint(104) == (
        "raise the context: fake:keyword?n_ctx=128, or shorten the input")
    with pytest.raises(ExampleError, match=r"prompt \+ max_tokens is 2049 tokens"):
        # 2016 whitespace tokens + BOS + 32 = 2049 > 2048.
        window.check(GenRequest("w " * 2016, max_tokens=32), lambda t: len(t.split()))


def _gguf(path: Path, context: int | None, arch: str = "gemma3") -> Path:
    """A GGUF v3 header written by hand (ggml docs/gguf.md): string, arrays, then uint32."""
    def s(text: str) -> bytes:
        return struct.pack("<Q", len(text.encode())) + text.encode()

    kvs = [s("general.architecture") + struct.pack("<I", 8) + s(arch),
           s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 3) + s("<bos>") + s("a")
           + s("b"),
           s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 3) + struct.pack("<3f", 0, 0, 0),
           s("general.name") + struct.pack("<I", 8) + s("tiny")]
    if context is not None:
        kvs.append(s(f"{arch}.context_length") + struct.pack("<II", 4, context))
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
    return path


def test_gguf_context_length_is_read_from_the_header(tmp_path):
    assert gguf_context_length(_gguf(tmp_path / "a.gguf", 32768)) == 32768
    assert gguf_context_length(_gguf(tmp_path / "b.gguf", None)) is None
    assert gguf_context_length(_gguf(tmp_path / "c.gguf", 8192, "llama")) == 8192
    (tmp_path / "d.gguf").write_bytes(b"GGUF\x03\x00\x00\x00\x00")  # cut short
    assert gguf_context_length(tmp_path / "d.gguf") is None
    (tmp_path / "e.gguf").write_text("not a gguf")
    assert gguf_context_length(tmp_path / "e.gguf") is None


def test_hf_context_length_reads_config_json(tmp_path):
    (tmp_path / "config.json").write_text('{"max_position_embeddings": 32768}')
    assert hf_context_length(tmp_path) == 32768
    (tmp_path / "config.json").write_text('{"text_config": {"max_position_embeddings": 8192}}')
    assert hf_context_length(tmp_path) == 8192
    (tmp_path / "config.json").write_text("[]")
    assert hf_context_length(tmp_path) is None


def test_embedded_refuses_a_context_larger_than_the_gguf_supports(tmp_path):
    pytest.importorskip("llama_cpp")
    model = _gguf(tmp_path / "model.gguf", 32768)
    with pytest.raises(UsageError) as info:
        create(parse_spec(f"embedded:{model}?n_ctx=65536"), BackendOptions())
    assert "n_ctx=65536 is more than this model supports (32768 tokens)" in info.value.message
    # Within range: accepted without loading the weights (the model loads on first use).
    backend = create(parse_spec(f"embedded:{model}?n_ctx=8192"), BackendOptions())
    assert backend.capabilities.n_ctx == 8192 and backend.window.supported == 32768
    default = create(parse_spec(f"embedded:{model}"), BackendOptions())
    assert default.capabilities.n_ctx == 2048
    with pytest.raises(UsageError, match="unknown option 'nctx'"):
        create(parse_spec(f"embedded:{model}?nctx=8192"), BackendOptions())
