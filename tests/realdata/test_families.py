"""NLU++, ParaDetox and GLADIS through the documented bring-your-own-data path.

Each test writes an ordinary task YAML (a column mapping over the upstream
files, unchanged) and scores gold answers with the registered scorers: no
per-dataset loader code. Sources (see ../shared/datasets/README.md):
NLU++ (PolyAI, CC BY 4.0), ParaDetox (s-nlp, CC0), GLADIS (CC0; its
candidate dictionary partly from UMLS).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.scoring import Output, score_all
from harness.scoring.parse import parse_output
from harness.tasks import Example, Task, load_task

pytestmark = pytest.mark.realdata


def _score(task: Task, ex: Example, text: str) -> dict[str, Any]:
    parsed = parse_output(task.spec, dict(task.resources), text)
    return {k: v["value"] for k, v in
            score_all(task, ex, Output(text, parsed.prediction, parsed.detail)).items()}


def _nlupp_schema(ontology: dict[str, Any]) -> dict[str, Any]:
    """A draft 2020-12 schema for {intents, slots} from the NLU++ ontology."""
    slot = {"type": "object",
            "properties": {"text": {"type": "string"},
                           "span": {"type": "array", "items": {"type": "integer"},
                                    "minItems": 2, "maxItems": 2},
                           "value": {}, "values": {"type": "object"}},
            "required": ["text", "span"], "additionalProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {
                "intents": {"type": "array", "uniqueItems": True,
                            "items": {"enum": sorted(ontology["intents"])}},
                "slots": {"type": "object", "additionalProperties": False,
                          "properties": {name: slot for name in sorted(ontology["slots"])}}},
            "additionalProperties": False}


def test_nlupp_gold_objects_score_exactly(datasets: Path, tmp_path: Path) -> None:
    root = datasets / "nlupp" / "nlupp" / "data"
    ontology = json.loads((root / "ontology.json").read_text(encoding="utf-8"))
    (tmp_path / "schema.json").write_text(json.dumps(_nlupp_schema(ontology)))
    (tmp_path / "nlupp.yaml").write_text(
        "name: nlupp_banking\nfamily: format\n"
        "description: The intents and slots of a banking utterance, as JSON.\n"
        "schema: schema.json\n"
        "data:\n  columns: {input: text, target: [intents, slots]}\n"
        f"  files: {{train: {root / 'banking' / 'fold1.json'}, "
        f"test: {root / 'banking' / 'fold0.json'}}}\n"
        "normalize: {case: false, whitespace: false, numbers: false}\n")
    task = load_task(tmp_path / "nlupp.yaml")  # every gold object validates at load
    test = task.split("test")
    assert len(test) == 104 and test[0].line == 2
    with_slots = [ex for ex in test if "slots" in json.loads(ex.target)]
    assert len(with_slots) > 20
    for ex in test:
        values = _score(task, ex, ex.target)
        assert set(values.values()) == {1.0}, (ex.id, values)
    # The same scorers see a dropped intent and a changed slot value.
    ex = with_slots[0]
    gold = json.loads(ex.target)
    wrong = dict(gold, intents=gold["intents"][1:] or ["affirm"])
    assert _score(task, ex, json.dumps(wrong))["exact_match"] == 0.0
    assert _score(task, ex, json.dumps(wrong))["field_recall"] < 1.0
    bad_intent = dict(gold, intents=["not_an_intent"])
    assert _score(task, ex, json.dumps(bad_intent))["schema_valid"] == 0.0


def test_paradetox_human_rewrites_beat_toxic_sources(datasets: Path, tmp_path: Path) -> None:
    tsv = datasets / "paradetox" / "paradetox" / "paradetox.tsv"
    (tmp_path / "paradetox.yaml").write_text(
        "name: paradetox\nfamily: tone\n"
        "description: Rewrite the toxic sentence politely, keeping its content.\n"
        "data:\n  columns: {input: toxic, target: neutral1, references: [neutral2, neutral3]}\n"
        f"  path: {tsv}\n  split_rule: {{seed: 1, dev: 0.1, test: 0.2}}\n"
        "style: {source: toxic, target: neutral}\n")
    task = load_task(tmp_path / "paradetox.yaml")
    n = sum(len(task.split(s)) for s in ("train", "dev", "test"))
    assert n == 11927
    rows = task.split("test")[:60]
    human = [_score(task, ex, ex.target) for ex in rows]
    toxic = [_score(task, ex, ex.input) for ex in rows]
    j_human = float(np.mean([s["joint"] for s in human]))
    j_toxic = float(np.mean([s["joint"] for s in toxic]))
    style_human = float(np.mean([s["style_accuracy"] for s in human]))
    print(f"ParaDetox J: human rewrites {j_human:.3f}, toxic sources {j_toxic:.3f}")
    assert j_human > 0.5 and j_human - j_toxic > 0.3 and j_human > 2 * j_toxic, (j_human,
                                                                               j_toxic)
    assert style_human > 0.8
    # The toxic source keeps all its content (similarity 1), so only style separates them.
    assert np.mean([s["similarity_source"] for s in toxic]) > 0.99


def test_gladis_gold_long_forms_and_a_wrong_candidate(datasets: Path, tmp_path: Path) -> None:
    root = datasets / "gladis-biomedical"
    data = root / "input" / "dataset" / "biomedical"
    (tmp_path / "gladis.yaml").write_text(
        "name: gladis_bio\nfamily: terminology\nmode: expansion\n"
        "description: Expand the biomedical acronym in the sentence to its long form.\n"
        "data:\n  columns: {input: tokens, target: long_term}\n"
        f"  files: {{train: {data / 'train.json'}, dev: {data / 'dev.json'}, "
        f"test: {data / 'test.json'}}}\n")
    task = load_task(tmp_path / "gladis.yaml")
    test = task.split("test")
    assert len(test) == 3149
    assert test[0].input.startswith("With regard to ANS activity ,")
    gold = [_score(task, ex, ex.target)["expansion_accuracy"] for ex in test]
    assert float(np.mean(gold)) == 1.0
    candidates = json.loads((root / "evaluation" / "dict" / "bio_umls_dict.json").read_text())
    ex = test[0]
    key = " ".join(ex.target.lower().split())
    wrong = next(c for c, _ in candidates[ex.fields["short_term"]]
                 if " ".join(c.lower().split()) != key)
    assert _score(task, ex, wrong)["expansion_accuracy"] == 0.0
    assert _score(task, ex, ex.target.upper() + " ")["expansion_accuracy"] == 1.0
