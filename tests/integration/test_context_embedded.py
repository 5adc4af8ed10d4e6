"""Issue 14 case 7 on the real embedded model: one input far longer than the context.

A task with one ~13,900-token input among short ones, embedded backend at
its default context of 2,048: the run used to stop at that example with
exit 2, naming no task, example or line. Now ``estimate`` lists it, the run
records it as a failed example and scores the others, and the context size
is a model option checked against the GGUF's own context length (32,768).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness.backends import BackendOptions, create, parse_spec
from harness.cli import main
from harness.errors import UsageError
from harness.store import Store

pytestmark = pytest.mark.integration

LONG = "apple " * 13900


def _project(root: Path) -> Path:
    rows = {"train": [("t0", "pear", "fruit"), ("t1", "dog", "animal"), ("t2", "red", "colour")],
            "dev": [("d0", "plum", "fruit"), ("d1", "cat", "animal")],
            "test": [("x0", "lemon", "fruit"), ("x1", LONG, "fruit"), ("x2", "blue", "colour")]}
    for split, items in rows.items():
        (root / f"{split}.jsonl").write_text("".join(
            json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, t, lab in items))
    (root / "task.yaml").write_text(
        "name: words\nfamily: classification\ndescription: Fruit, animal or colour.\n"
        "data:\n  columns: {id: id, input: text, target: label}\n"
        "  files: {train: train.jsonl, dev: dev.jsonl, test: test.jsonl}\n"
        "labels: [fruit, animal, colour]\n")
    (root / "v.j2").write_text("Word: {{ input }}\nCategory:")
    (root / "v.yaml").write_text("name: v\ntemplate: v.j2\n")
    (root / "run.yaml").write_text("name: r\ntasks: [task.yaml]\nvariants: [v.yaml]\n"
                                   "models: [embedded]\n")
    return root / "run.yaml"


def test_one_input_longer_than_the_context_fails_alone(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    config = _project(tmp_path)
    store = tmp_path / "store"
    assert main(["estimate", str(config), "--store", str(store)]) == 0
    out = capsys.readouterr().out
    listed = re.search(rf"  {re.escape(str(tmp_path / 'test.jsonl'))}:2: task words, "
                       r"example x1: (\d+) tokens, context 2048 \(variant v, model embedded\)",
                       out)
    assert listed is not None, out
    # 13,900 repeated words are at least 13,900 tokens, and far below 32,768.
    assert 13900 < int(listed.group(1)) <= 16384

    code = main(["run", str(config), "--store", str(store), "--reports", str(tmp_path / "r")])
    capsys.readouterr()
    assert code == 1  # some examples failed; every other example ran
    db = Store(store)
    (run,) = db.runs()
    recs = {r.example_id: r for r in db.records(run.run_id)}
    db.close()
    assert sorted(recs) == ["d0", "d1", "x0", "x1", "x2"]
    assert [k for k, r in recs.items() if r.error] == ["x1"]
    assert recs["x1"].error == (
        f"{tmp_path / 'test.jsonl'}:2: example x1: prompt + label is {listed.group(1)} "
        "tokens, more than the context (2048) (raise the context: embedded?n_ctx=16384, or "
        "shorten the input)")
    assert recs["x2"].scores["label_accuracy"]["value"] is not None  # the row after it ran
    (run_dir,) = (tmp_path / "r").iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    (variant,) = results["tasks"][0]["variants"]
    assert (variant["n"], variant["errors"]) == (2, 1)

    # The context is a model option, up to what gemma-3-270m supports (32768).
    big = create(parse_spec("embedded?n_ctx=32768"), BackendOptions())
    assert big.capabilities.n_ctx == 32768 and big.window.supported == 32768
    big.close()  # never loaded: the weights load on first use
    with pytest.raises(UsageError, match=r"n_ctx=32769 is more than this model supports "
                       r"\(32768 tokens\)"):
        create(parse_spec("embedded?n_ctx=32769"), BackendOptions())
