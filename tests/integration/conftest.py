"""Fixtures for tests that load the real embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp", reason="needs the embedded extra: pip install -e '.[embedded]'")

WORDS = {
    "fruit": ["apple", "banana", "cherry", "mango", "pear", "plum", "grape", "lemon",
              "peach", "melon", "kiwi", "apricot", "lime", "orange", "papaya", "fig"],
    "animal": ["dog", "cat", "horse", "tiger", "rabbit", "sheep", "lion", "zebra",
               "mouse", "goat", "wolf", "bear", "donkey", "camel", "otter", "fox"],
    "colour": ["red", "blue", "green", "yellow", "purple", "black", "white", "pink",
               "brown", "grey", "violet", "crimson", "turquoise", "beige", "navy", "teal"],
}


def write_easy_task(root: Path) -> Path:
    """An easy 3-label task: which category does a single word belong to."""
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[dict[str, str]]] = {"train": [], "dev": [], "test": []}
    for label, words in WORDS.items():
        for i, w in enumerate(words):
            split = "train" if i < 6 else "dev" if i < 9 else "test"
            splits[split].append({"id": f"{label}-{w}", "text": w, "label": label})
    for split, rows in splits.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = root / "easy.yaml"
    task.write_text(
        "name: easy\nfamily: classification\n"
        "description: Say whether the word is a fruit, an animal or a colour.\n"
        "data:\n  columns: {id: id, input: text, target: label}\n"
        "  files: {train: data/train.jsonl, dev: data/dev.jsonl, test: data/test.jsonl}\n"
        "labels: [fruit, animal, colour]\n")
    tpl = root / "templates"
    tpl.mkdir(exist_ok=True)
    shots = ("{% for shot in shots %}Word: {{ shot.input }}\nCategory: {{ MAP[shot.target] }}\n\n"
             "{% endfor %}Word: {{ input }}\nCategory:")
    (tpl / "good.j2").write_text(
        '{% set MAP = {"fruit": "fruit", "animal": "animal", "colour": "colour"} %}' + shots)
    # Deliberately broken: every demonstration says "fruit". Both variants draw the
    # same six shots (the draw depends on k and the rule, not the name), so only the
    # labels differ. Permuted labels would hurt a small model little (Min et al.,
    # 2022, "Rethinking the Role of Demonstrations"); a constant one pulls its answers
    # to that label (majority-label bias, Zhao et al., 2021).
    (tpl / "broken.j2").write_text(
        '{% set MAP = {"fruit": "fruit", "animal": "fruit", "colour": "fruit"} %}' + shots)
    (root / "few_shot.yaml").write_text(
        "name: few_shot\ntemplate: templates/good.j2\nshots: 6\n")
    (root / "broken.yaml").write_text(
        "name: broken\ntemplate: templates/broken.j2\nshots: 6\n")
    return task


@pytest.fixture
def easy_dir(tmp_path: Path) -> Path:
    write_easy_task(tmp_path)
    (tmp_path / "run.yaml").write_text(
        "name: easy-run\nseed: 3\ntasks: [easy.yaml]\nvariants: [few_shot.yaml, broken.yaml]\n"
        "models: [embedded]\n")
    return tmp_path
