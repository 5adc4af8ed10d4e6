"""Real LoRA training on the embedded model, evaluated through both adapter forms.

A small classification task whose labels are house code names (ZORP, BLIX,
KWEN for fruit, animal, colour): a zero-shot prompt cannot know them, a
LoRA adapter trained for a few epochs on 30 examples learns them. The
adapter is then scored on the same 36 test examples by the embedded
backend (llama.cpp + GGUF LoRA) and the hf backend (transformers + peft).
About 2-3 minutes on an idle 2-core CPU (the GGUF is unpacked once before).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
pytest.importorskip("peft")

from harness.backends import BackendOptions, ModelSpec, ScoreRequest, create  # noqa: E402
from harness.finetune import train_adapter  # noqa: E402
from harness.tasks import Task, load_task  # noqa: E402
from harness.training import TrainOptions  # noqa: E402

pytestmark = pytest.mark.integration

from codes_task import OPTIONS, TEMPLATE, write_code_task  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Task, Any]]:
    root = tmp_path_factory.mktemp("codes")
    task = load_task(write_code_task(root))
    yield task, train_adapter(task, out_dir=root / "adapter", options=OPTIONS)


def predictions(spec: ModelSpec, task: Task) -> list[str]:
    """Label-scoring predictions on the test split, with the training template's prompt."""
    backend = create(spec, BackendOptions())
    labels = list(task.spec.labels)
    out = []
    try:
        for ex in task.split("test"):
            prompt = TEMPLATE.replace("{{ input }}", ex.input)
            lps = backend.score(ScoreRequest(prompt, tuple(" " + lab for lab in labels)))
            out.append(labels[max(range(len(labels)), key=lambda i: lps.logprobs[i])])
    finally:
        backend.close()
    return out


def accuracy(preds: list[str], task: Task) -> float:
    gold = [ex.target for ex in task.split("test")]
    return sum(p == g for p, g in zip(preds, gold, strict=True)) / len(gold)


def test_training_writes_every_artifact(trained: tuple[Task, Any]) -> None:
    _, res = trained
    assert sorted(p.name for p in res.out_dir.iterdir()
                  if not p.name.endswith(".sha256.json")) == [
        "Modelfile", "adapter.gguf", "peft", "training.json"]
    assert (res.peft_dir / "adapter_config.json").is_file()
    modelfile = res.modelfile.read_text()
    assert "\nFROM /" in modelfile and "\nADAPTER ./adapter.gguf\n" in modelfile
    record = json.loads(res.training_json.read_text())
    assert record["hyperparameters"]["rank"] == 8 and record["seed"] == 0
    metrics = record["metrics"]
    assert len(metrics["train_loss"]) == 5 and len(metrics["dev_loss"]) == 5
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    assert metrics["tokens_trained"] > 0 and metrics["peak_memory_bytes"] > 100e6
    assert record["adapter"]["gguf_bytes"] == res.adapter_bytes > 100_000
    assert record["machine"]["base_dtype"] in ("float32", "bfloat16")
    assert record["data"]["digest"] == res.data_digest and len(res.data_digest) == 64
    # llama.cpp loads the GGUF LoRA and it really moves the answer's log-probability.
    check = record["gguf_check"]
    assert check["answer_logprob_adapter"] > check["answer_logprob_base"] + 1.0


def test_adapter_beats_zero_shot_and_both_backends_agree(trained: tuple[Task, Any]) -> None:
    task, res = trained
    zero = predictions(ModelSpec("embedded"), task)
    gguf = predictions(ModelSpec("embedded", adapter=str(res.gguf_path)), task)
    hf = predictions(ModelSpec("hf", "embedded", adapter=str(res.peft_dir)), task)
    acc_zero, acc_gguf, acc_hf = accuracy(zero, task), accuracy(gguf, task), accuracy(hf, task)
    agree = sum(a == b for a, b in zip(gguf, hf, strict=True)) / len(gguf)
    print(f"\ntest accuracy: zero-shot {acc_zero:.3f}, GGUF LoRA {acc_gguf:.3f}, "
          f"peft {acc_hf:.3f}; hf/embedded agreement {agree:.3f}")
    assert acc_gguf > acc_zero + 0.25
    assert acc_gguf >= 0.7
    assert agree >= 0.9


def test_same_seed_same_weights_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    task = load_task(write_code_task(tmp_path / "tiny", train_per_label=2))
    opts = TrainOptions(rank=4, alpha=8, epochs=1, lr=1e-3, batch_size=3, seed=7,
                        template=TEMPLATE, target_modules=("q_proj", "v_proj"))
    a = train_adapter(task, out_dir=tmp_path / "a", options=opts)
    b = train_adapter(task, out_dir=tmp_path / "b", options=opts)
    wa = load_file(str(a.peft_dir / "adapter_model.safetensors"))
    wb = load_file(str(b.peft_dir / "adapter_model.safetensors"))
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)
    assert any(float(wa[k].abs().sum()) > 0 for k in wa if "lora_B" in k)  # it did train

    def interrupt(line: str) -> None:
        if line.startswith("epoch"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_adapter(task, out_dir=tmp_path / "c", options=opts, progress=interrupt)
    assert not (tmp_path / "c").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".c")] == []


def test_run_trains_on_the_spot_once_and_retraining_invalidates_only_its_responses(
        tmp_path: Path) -> None:
    from harness.backends import BackendOptions as Options
    from harness.config import load_config
    from harness.runner import Runner
    from harness.store import Store

    write_code_task(tmp_path, train_per_label=3)
    (tmp_path / "t.j2").write_text(TEMPLATE)
    (tmp_path / "zero.yaml").write_text("name: zero\ntemplate: t.j2\n")
    lora = tmp_path / "tuned.yaml"
    lora.write_text("name: tuned\nkind: lora\ntemplate: t.j2\n"
                    "train: {rank: 4, epochs: 2, lr: 0.002, batch_size: 3, seed: 1}\n")
    (tmp_path / "run.yaml").write_text(
        "name: r\nseed: 1\ntasks: [codes.yaml]\nvariants: [zero.yaml, tuned.yaml]\n"
        "models: [embedded]\nsplits: [test]\nlimit: {test: 6}\n")
    store = Store(tmp_path / "store")

    def run() -> Any:
        return Runner(load_config(tmp_path / "run.yaml"), store, Options()).run()

    first = run()
    assert first.model_calls == 12 and first.errors == 0
    adapters = list((tmp_path / "store" / "adapters").iterdir())
    assert len(adapters) == 1 and (adapters[0] / "training.json").is_file()
    assert store.trainings(first.run_id)[("codes", "tuned")]["hyperparameters"]["rank"] == 4
    assert run().model_calls == 0  # the adapter is reused by digest, every response cached
    lora.write_text(lora.read_text().replace("epochs: 2", "epochs: 3"))
    third = run()
    assert third.model_calls == 6 and third.cache_hits == 6  # only the retrained variant
    assert len(list((tmp_path / "store" / "adapters").iterdir())) == 2
