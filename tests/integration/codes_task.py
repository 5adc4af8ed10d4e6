"""A tiny classification task whose labels only training can teach, and its LoRA options.

Shared by the training tests and the llama.cpp-server LoRA test.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.training import TrainOptions

WORDS = {
    "ZORP": ["apple", "banana", "cherry", "mango", "pear", "plum", "grape", "lemon", "peach",
             "melon", "kiwi", "apricot", "lime", "orange", "papaya", "fig", "coconut",
             "pineapple", "strawberry", "raspberry", "blueberry", "guava", "lychee", "date"],
    "BLIX": ["dog", "cat", "horse", "tiger", "rabbit", "sheep", "lion", "zebra", "mouse",
             "goat", "wolf", "bear", "donkey", "camel", "otter", "fox", "elephant", "giraffe",
             "monkey", "deer", "squirrel", "badger", "hamster", "kangaroo"],
    "KWEN": ["red", "blue", "green", "yellow", "purple", "black", "white", "pink", "brown",
             "grey", "violet", "crimson", "turquoise", "beige", "navy", "teal", "magenta",
             "maroon", "indigo", "scarlet", "olive", "lavender", "cyan", "amber"],
}
TEMPLATE = "Word: {{ input }}\nCategory:"
OPTIONS = TrainOptions(rank=8, alpha=16, epochs=5, lr=2e-3, batch_size=4, seed=0,
                       template=TEMPLATE)


def write_code_task(root: Path, train_per_label: int = 10) -> Path:
    """Train/dev/test files and the task YAML; labels are code names only training teaches."""
    splits: dict[str, list[dict[str, str]]] = {"train": [], "dev": [], "test": []}
    for label, words in WORDS.items():
        for i, word in enumerate(words):
            split = ("train" if i < train_per_label else "dev" if i < 12 else "test")
            splits[split].append({"id": f"{label}-{word}", "text": word, "label": label})
    (root / "data").mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (root / "data" / f"{split}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    task = root / "codes.yaml"
    task.write_text("name: codes\nfamily: classification\n"
                    "description: Tag a word with its house category code.\n"
                    "data:\n  columns: {id: id, input: text, target: label}\n"
                    "  files: {train: data/train.jsonl, dev: data/dev.jsonl, "
                    "test: data/test.jsonl}\nlabels: [ZORP, BLIX, KWEN]\n", encoding="utf-8")
    return task
