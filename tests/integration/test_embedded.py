"""The real embedded model (gemma-3-270m via llama-cpp-python) end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from harness.backends import BackendOptions, GenRequest, ScoreRequest, create, parse_spec
from harness.cli import main
from harness.modelfiles import embedded_gguf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    b = create(parse_spec("embedded"), BackendOptions())
    yield b
    b.close()


def _reference_logprob(prompt: str, cont: str) -> float:
    """Naive reference: a fresh context, full logits, no prefix reuse, no batching tricks."""
    from llama_cpp import Llama

    ref = Llama(model_path=str(embedded_gguf()[0]), n_ctx=256, logits_all=True,
                verbose=False)
    try:
        pt = ref.tokenize(prompt.encode(), add_bos=True)
        ct = ref.tokenize(cont.encode(), add_bos=False)
        ref.eval(pt + ct)
        total = 0.0
        for j, tok in enumerate(ct):
            row = ref.scores[len(pt) - 1 + j].astype(np.float64)
            m = row.max()
            total += float(row[tok] - m - np.log(np.exp(row - m).sum()))
        return total
    finally:
        ref.close()


def test_label_scores_match_a_naive_reference(backend) -> None:  # type: ignore[no-untyped-def]
    prompt = "Word: banana\nCategory:"
    conts = (" fruit", " animal", " colour", " shipment_delayed_in_transit")
    fast = backend.score(ScoreRequest(prompt, conts))
    assert fast.token_counts[-1] > 2  # a multi-token label really is multi-token
    for cont, got in zip(conts, fast.logprobs, strict=True):
        # Batched decodes differ from a single-sequence decode by float noise only.
        assert got == pytest.approx(_reference_logprob(prompt, cont), abs=0.25)
    assert fast.logprobs[0] == max(fast.logprobs)


def test_scores_do_not_depend_on_what_was_scored_before(backend) -> None:  # type: ignore[no-untyped-def]
    a = ScoreRequest("Word: tiger\nCategory:", (" fruit", " animal", " colour"))
    b = ScoreRequest("Word: tiger is here\nCategory:", (" colour", " animal"))
    first = backend.score(a).logprobs
    backend.score(b)  # shares a prefix: the KV cache is partially reused
    again = backend.score(a).logprobs
    # Reused KV cells were computed in differently shaped batches, and llama.cpp's
    # kernels depend on batch shape: allow float noise, never a different answer.
    assert np.allclose(first, again, atol=0.25)
    assert int(np.argmax(first)) == int(np.argmax(again)) == 1
    assert backend.score(a).logprobs == again  # an identical prompt reuses its logits
    assert not math.isclose(first[0], first[1])


def test_greedy_generation_is_deterministic(backend) -> None:  # type: ignore[no-untyped-def]
    req = GenRequest("The capital of France is", max_tokens=6, stop=("\n",))
    one, two = backend.generate(req), backend.generate(req)
    assert one.text == two.text and one.text.strip()
    assert one.prompt_tokens > 3 and 0 < one.completion_tokens <= 6


def test_run_store_report_few_shot_beats_a_broken_prompt(easy_dir: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    args = ["run", str(easy_dir / "run.yaml"), "--store", str(easy_dir / "store"),
            "--reports", str(easy_dir / "reports")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert re.search(r"\b60 model calls", out), out
    results = json.loads(next((easy_dir / "reports").glob("*/results.json")).read_text())
    task = results["tasks"][0]
    scores = {v["name"]: v["score"] for v in task["variants"]}
    assert scores["few_shot"] >= 0.7, scores
    assert scores["few_shot"] >= scores["broken"] + 0.1, scores
    assert task["baseline"] == "few_shot"  # chosen on dev
    (cmp,) = task["comparisons"]
    assert cmp["candidate"] == "broken" and cmp["delta"] < 0 and cmp["ci_high"] < 0
    # The same config again: every response comes from the cache.
    assert main(args) == 0
    assert "zero model calls" in capsys.readouterr().out
