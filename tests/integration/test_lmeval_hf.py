"""lm-eval's evaluator (hf model on the embedded model's unpacked copy) vs tunegate.

The exported classification task runs through ``lm_eval.simple_evaluate``
with ``log_samples``; its accuracy must equal tunegate's on the same
examples with the same weights (tunegate's ``hf:embedded`` backend), and the
imported per-sample records must join to the right examples.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.backends.base import BackendOptions, create, parse_spec
from harness.client import CachedModel
from harness.lmeval_run import LmevalOptions, run_lmeval
from harness.predict import make_plan, predict_classification
from harness.store import Store
from harness.tasks import load_task
from harness.variants.prompt import load_variant
from harness.variants.shots import select_shots

pytestmark = pytest.mark.integration
pytest.importorskip("lm_eval", reason="needs the lmeval extra: pip install 'tunegate[lmeval]'")
pytest.importorskip("transformers", reason="needs the train extra")
N = 12


def _hf_dir() -> Path:
    from harness.modelfiles import embedded_gguf
    from harness.training.unpack import unpack_gguf, unpacked_dir

    path, digest = embedded_gguf()
    return unpack_gguf(path, digest, unpacked_dir(path, digest, embedded=True))


def _tunegate_accuracy(spec: str, task_path: Path, variant_path: Path, store: Store
                       ) -> tuple[float, list[str]]:
    task, variant = load_task(task_path), load_variant(variant_path)
    backend = create(parse_spec(spec), BackendOptions())
    try:
        model = CachedModel(backend, store)
        plan = make_plan(model, task, variant, select_shots(task, variant, 0))
        preds = [predict_classification(model, plan, ex)[0].prediction or ""
                 for ex in task.split("test")[:N]]
    finally:
        backend.close()
    gold = [ex.target for ex in task.split("test")[:N]]
    return sum(p == g for p, g in zip(preds, gold, strict=True)) / N, preds


def test_lm_eval_accuracy_equals_tunegate_on_the_same_examples(easy_dir: Path) -> None:
    task_path, variant_path = easy_dir / "easy.yaml", easy_dir / "few_shot.yaml"
    store = Store(easy_dir / "store")
    opts = LmevalOptions("hf", f"pretrained={_hf_dir()},dtype=float32,device=cpu",
                         "multiple_choice", easy_dir / "lm", limit=N, batch_size=4)
    done = run_lmeval(load_task(task_path), store, opts, load_variant(variant_path))
    ours, ours_preds = _tunegate_accuracy("hf:embedded", task_path, variant_path, store)
    gguf, _ = _tunegate_accuracy("embedded", task_path, variant_path, store)
    print(f"\nlm-eval hf acc {done.value:.4f}; tunegate hf:embedded {ours:.4f}; "
          f"tunegate embedded (llama.cpp Q4) {gguf:.4f} on {N} examples")
    assert done.records == N
    assert done.value == pytest.approx(ours, abs=1e-9)
    assert abs(gguf - done.value) <= 2 / N  # quantized compute may flip a close call
    db = sqlite3.connect(store.path)
    rows = db.execute("SELECT example_id, output, scores, model FROM records WHERE run_id = ?",
                      (done.run_id,)).fetchall()
    by_id = {r[0]: r for r in rows}
    task = load_task(task_path)
    for i, ex in enumerate(task.split("test")[:N]):
        out = json.loads(by_id[ex.id][1])
        assert out["detail"]["doc_id"] == i and out["prediction"] == ours_preds[i]
        assert by_id[ex.id][3] == "lmeval:hf"
    acc = sum(json.loads(r[2])["label_accuracy"]["value"] for r in rows) / N
    assert acc == pytest.approx(done.value)
    store.close()


def test_generate_until_samples_import_with_strict_label_matching(easy_dir: Path) -> None:
    task_path, variant_path = easy_dir / "easy.yaml", easy_dir / "few_shot.yaml"
    store = Store(easy_dir / "store")
    opts = LmevalOptions("hf", f"pretrained={_hf_dir()},dtype=float32,device=cpu",
                         "generate_until", easy_dir / "lm", limit=3, batch_size=1)
    done = run_lmeval(load_task(task_path), store, opts, load_variant(variant_path))
    assert done.metric == "exact_match,strict-match" and done.records == 3
    rows = [json.loads(r[0]) | {"score": json.loads(r[1])["label_accuracy"]["value"]}
            for r in sqlite3.connect(store.path).execute(
                "SELECT output, scores FROM records WHERE run_id = ?", (done.run_id,))]
    for out in rows:
        assert out["detail"]["mode"] == "lmeval-generate_until"
        # lm-eval's (?i) regex filter and tunegate's strict match agree on every answer.
        assert (out["prediction"] or "[invalid]").lower() == out["detail"]["filtered"].lower()
    assert sum(r["score"] for r in rows) / 3 == pytest.approx(done.value)
    store.close()
