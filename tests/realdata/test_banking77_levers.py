"""BANKING77 (PolyAI, CC BY 4.0): the prompting levers against a LoRA, on 12 intents.

One tunegate run on the embedded model (gemma-3-270m, label scoring) over a
12-intent subset of BANKING77: few-shot with k=8 demonstrations chosen at
random, stratified over labels, or by MiniLM similarity to the input (Liu et
al., 2022), stratified few-shot with contextual calibration (Zhao et al.,
2021), and a LoRA adapter trained on the spot (baselines/lora.yaml). The
subset is drawn deterministically from the upstream CSVs and written under
tmp_path, never into the repository. It prints one line per variant with
its test accuracy and 95% interval, the numbers docs/variants.md quotes.

It takes 10-20 minutes on a 2-core CPU (780 label-scored prompts of about
400 tokens over 12 labels, and a LoRA training of about two minutes), more
than the whole rest of the suite, so it runs only when asked:
``TUNEGATE_LONG_TESTS=1 make test`` (or ``make test-long``).
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.cli import main

# About 20 minutes on a shared, loaded 2-core CPU: past pytest's default 900 s limit.
pytestmark = [pytest.mark.realdata, pytest.mark.integration, pytest.mark.slow,
              pytest.mark.timeout(2700),
              pytest.mark.skipif(os.environ.get("TUNEGATE_LONG_TESTS") != "1",
                                 reason="10-20 minutes on 2 cores: set TUNEGATE_LONG_TESTS=1 "
                                        "(make test-long) to run it")]

BASELINES = Path(__file__).resolve().parents[2] / "baselines"
SEED = 77
N_LABELS, N_TRAIN, N_DEV, N_TEST = 12, 20, 5, 8  # per label: 240 train, 60 dev, 96 test
# few-shot random / stratified / similar, calibrated, LoRA (config order).
VARIANTS = ("few_shot_random", "few_shot", "similar", "calibrated", "lora")


def _rows(path: Path) -> dict[str, list[str]]:
    """Upstream CSV rows (text, category), grouped by label in file order."""
    by_label: dict[str, list[str]] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_label.setdefault(row["category"], []).append(row["text"])
    return by_label


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["text", "category"])
        w.writerows(rows)


def _subset(datasets: Path, tmp: Path) -> tuple[Path, list[str]]:
    """The task YAML over a seeded 12-intent subset, and its labels.

    The intents are every 6th of the 77 sorted names (indices 0, 6, ..., 66).
    Per intent, a seeded permutation of its upstream train rows gives 20 train
    and the next 5 dev rows (disjoint); a seeded permutation of its upstream
    test rows gives 8 test rows.
    """
    root = datasets / "banking77" / "banking_data"
    labels = sorted(json.loads((root / "categories.json").read_text()))[::6][:N_LABELS]
    train_up, test_up = _rows(root / "train.csv"), _rows(root / "test.csv")
    rng = np.random.default_rng(SEED)
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "dev": [], "test": []}
    for label in labels:
        tr = [train_up[label][i] for i in rng.permutation(len(train_up[label]))]
        te = [test_up[label][i] for i in rng.permutation(len(test_up[label]))]
        splits["train"] += [(t, label) for t in tr[:N_TRAIN]]
        splits["dev"] += [(t, label) for t in tr[N_TRAIN:N_TRAIN + N_DEV]]
        splits["test"] += [(t, label) for t in te[:N_TEST]]
    for name, rows in splits.items():
        _write(tmp / f"{name}.csv", rows)
    task = tmp / "banking12.yaml"
    task.write_text(
        "name: banking12\nfamily: classification\n"
        "description: Which banking intent does the customer message express?\n"
        "data:\n  columns: {input: text, target: category}\n"
        "  files: {train: train.csv, dev: dev.csv, test: test.csv}\n"
        f"labels: {json.dumps(labels)}\n")
    return task, labels


def _run(task: Path, tmp: Path) -> tuple[dict[str, Any], str, float]:
    random_shots = tmp / "few_shot_random.yaml"
    random_shots.write_text(
        "name: few_shot_random\nkind: prompt\n"
        f"template: {BASELINES / 'templates' / 'classify_few_shot.j2'}\n"
        "shots: 8\nshot_selection: random\n")
    variants = [random_shots, *(BASELINES / f"{n}.yaml"
                                for n in ("few_shot", "similar", "calibrated", "lora"))]
    cfg = tmp / "run.yaml"
    cfg.write_text(f"name: banking12_levers\nseed: {SEED}\ntasks: [{task}]\n"
                   f"variants: [{', '.join(str(v) for v in variants)}]\n"
                   "models: [embedded]\nsplits: [dev, test]\n")
    reports = tmp / "reports"
    start = time.monotonic()
    rc = main(["run", str(cfg), "--store", str(tmp / "store"), "--reports", str(reports)])
    wall = time.monotonic() - start
    assert rc == 0, rc  # `run` reports the verdict; only `gate` turns it into an exit code
    out = next(reports.glob("*/results.json")).parent
    return json.loads((out / "results.json").read_text()), (out / "report.md").read_text(), wall


def test_levers_and_lora_on_a_banking77_subset(datasets: Path, tmp_path: Path) -> None:
    task, labels = _subset(datasets, tmp_path)
    assert len(labels) == N_LABELS and len(set(labels)) == N_LABELS
    results, report, wall = _run(task, tmp_path)
    (t,) = results["tasks"]
    by_name = {v["name"]: v for v in t["variants"]}
    lines = [f"{n}: test {100 * v['score']:.1f}% [{100 * v['ci_low']:.1f}, "
             f"{100 * v['ci_high']:.1f}] dev {100 * v.get('dev_score', float('nan')):.1f}%"
             for n, v in by_name.items()]
    lora_cmp = next((c for c in t["comparisons"] if c["candidate"] == "lora"), None)
    training = t.get("training") or {}
    print(f"\nbanking12 ({wall:.0f} s wall): " + "; ".join(lines)
          + f"; baseline {t['baseline']}; lora vs baseline "
          + ("n/a" if lora_cmp is None else
             f"{100 * lora_cmp['delta']:+.1f} [{100 * lora_cmp['ci_low']:+.1f}, "
             f"{100 * lora_cmp['ci_high']:+.1f}]")
          + f"; verdict {(t.get('verdict') or {}).get('label')}; "
          f"training {(training.get('metrics') or {}).get('wall_s', training.get('wall_s'))} s")
    assert sorted(by_name) == sorted(VARIANTS)
    n_test = N_LABELS * N_TEST
    for name, v in by_name.items():
        assert v["n"] == n_test and v["errors"] == 0, (name, v["n"], v["errors"])
        assert 0.0 <= v["ci_low"] <= v["score"] <= v["ci_high"] <= 1.0, name
        assert 0.0 <= v["dev_score"] <= 1.0, name
        assert v["confusion"]["labels"] == labels, name
    # The baseline is the best prompt on dev (the LoRA is the candidate, never the baseline).
    prompts = {n: by_name[n]["dev_score"] for n in VARIANTS[:4]}
    assert t["baseline"] in prompts and prompts[t["baseline"]] == max(prompts.values())
    # Measured (seed 77, 2026-11-30): test accuracy random 22.9, stratified 20.8, similar
    # 89.6, calibrated 53.1, LoRA 83.3 (%, n=96). With 12 intents and k=8, a fixed set of
    # shots shows at most 8 intents; similar shots show the input's own intent. The margins
    # asserted are far inside the measured ones (66.7 and 32.3 points).
    assert by_name["similar"]["score"] >= by_name["few_shot_random"]["score"] + 0.3
    assert by_name["similar"]["score"] >= by_name["few_shot"]["score"] + 0.3
    assert by_name["calibrated"]["score"] >= by_name["few_shot"]["score"] + 0.1
    if t["baseline"] == "similar":  # the paired interval is clear of 0 (measured -77 to -52)
        random_cmp = next(c for c in t["comparisons"] if c["candidate"] == "few_shot_random")
        assert random_cmp["ci_high"] < 0 and random_cmp["losses"] > random_cmp["wins"]
    assert t["candidate"] == "lora" and lora_cmp is not None
    assert lora_cmp["n"] == n_test and lora_cmp["baseline"] == t["baseline"]
    assert lora_cmp["wins"] + lora_cmp["losses"] + lora_cmp["ties"] == n_test
    assert lora_cmp["delta"] == pytest.approx(by_name["lora"]["score"]
                                              - by_name[t["baseline"]]["score"])
    label = t["verdict"]["label"]
    assert label.startswith(("FINE-TUNE JUSTIFIED", "NOT JUSTIFIED", "INCONCLUSIVE")), label
    assert f"n={n_test}" in t["verdict"]["reason"]
    assert training["hyperparameters"]["rank"] == 8 and training["seed"] == 13
    assert len(training["metrics"]["train_loss"]) == 3  # epochs: 3 (baselines/lora.yaml)
    assert training["metrics"]["train_loss"][-1] < training["metrics"]["train_loss"][0]
    for name in VARIANTS:  # the report's variants table has one row per variant
        assert re.search(rf"^\| {name}( \(baseline\))? \| (prompt|lora) \|", report, re.M), name
