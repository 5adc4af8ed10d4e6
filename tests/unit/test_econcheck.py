"""Economics inputs the gate will need are checked at load (issue 18 case 8).

A price that cannot be computed used to surface at gate time as
``ValueError: training_hours is missing``, a traceback and exit 1, which
reads as a failing gate. Each case here is a user mistake found by
``validate`` (and ``run``, before any model call) as one located line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_config
from harness.errors import UsageError

BASE = Path(__file__).resolve().parents[1] / "bad_inputs" / "_base"
RUN = """\
name: toyrun
tasks: [task.yaml]
variants: [echo.yaml, lora.yaml]
models: ["fake:keyword"]
analysis: {resamples: 200}
economics:
  price_in_per_mtok: 0.15
  price_out_per_mtok: 0.6
  calls_per_month: 100000
"""
GPU = "  gpu_price_per_hour: 2.5\n"  # line 10
MANAGED = "  managed_price_per_mtok_trained: 25.0\n"  # line 10


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    shutil.copytree(BASE, root)
    return root


def _lora(root: Path, source: str) -> None:
    (root / "lora.yaml").write_text(f"name: lora\nkind: lora\n{source}\ntemplate: echo.j2\n")


def _error(root: Path, economics: str) -> UsageError:
    (root / "run.yaml").write_text(RUN + economics)
    with pytest.raises(UsageError) as err:
        load_config(root / "run.yaml")
    return err.value


@pytest.mark.parametrize("adapter", ["served:routing-r8", "ft:gpt-4o-mini:org:x:1",
                                     "ollama:routing"])
def test_gpu_price_for_an_adapter_trained_elsewhere(proj: Path, adapter: str) -> None:
    _lora(proj, f"adapter: {adapter}")
    err = _error(proj, GPU)
    assert err.message == ("economics.training_hours is needed: variant 'lora' has no "
                           "measured training")
    assert (err.path, err.line) == (str(proj / "run.yaml"), 10)
    assert err.hint is not None and adapter in err.hint


def test_validate_and_run_stop_with_exit_2_before_any_model_call(
        proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _lora(proj, "adapter: served:routing-r8")
    (proj / "run.yaml").write_text(RUN + GPU)
    assert main(["validate", str(proj / "run.yaml")]) == 2
    assert main(["run", str(proj / "run.yaml"), "--store", str(proj / "st")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(":10: economics.training_hours is needed" in e for e in err)
    assert not (proj / "st" / "store.sqlite").exists()  # nothing ran


def test_given_training_hours_or_a_trained_variant_need_nothing(proj: Path) -> None:
    _lora(proj, "adapter: served:routing-r8")
    (proj / "run.yaml").write_text(RUN + GPU + "  training_hours: 3\n")
    assert load_config(proj / "run.yaml").spec.economics is not None
    _lora(proj, "train: {epochs: 1}")  # trained by the run: the run measures it
    (proj / "run.yaml").write_text(RUN + GPU)
    load_config(proj / "run.yaml")


def test_managed_price_needs_tokens_trained(proj: Path) -> None:
    _lora(proj, "adapter: served:routing-r8")
    err = _error(proj, MANAGED)
    assert err.message == ("economics.tokens_trained is needed: variant 'lora' has no "
                           "measured training")
    assert err.line == 10


def test_a_local_adapter_counts_as_measured_only_with_its_training_json(proj: Path) -> None:
    (proj / "ad").mkdir()
    (proj / "ad" / "adapter.gguf").write_bytes(b"GGUF")
    _lora(proj, "adapter: ad/adapter.gguf")
    err = _error(proj, GPU)
    assert "has no training.json" in (err.hint or "")
    # a record without the measurement (wall time) is still not a measurement
    (proj / "ad" / "training.json").write_text(json.dumps({"metrics": {}}))
    assert "records no such measurement" in (_error(proj, GPU).hint or "")
    # tunegate train's record: metrics.wall_s, or tokens_trained for managed pricing
    (proj / "ad" / "training.json").write_text(json.dumps({"metrics": {"wall_s": 90.0}}))
    (proj / "run.yaml").write_text(RUN + GPU)
    load_config(proj / "run.yaml")
    assert "tokens_trained is needed" in _error(proj, MANAGED).message


def test_only_the_named_candidate_is_checked(proj: Path) -> None:
    _lora(proj, "adapter: served:routing-r8")
    (proj / "run.yaml").write_text(RUN.replace("economics:", "decision: {candidate: echo}\n"
                                               "economics:") + GPU)
    load_config(proj / "run.yaml")  # echo is not a lora variant: nothing is trained


def test_labelling_price_needs_a_count_when_a_task_has_no_train_split(proj: Path) -> None:
    # n_labelled defaults to the task's train split; without one it was silently 0,
    # so the labelling cost came out as $0 whatever the price per example.
    task = (proj / "task.yaml").read_text().replace("    train: data/train.jsonl\n", "")
    (proj / "task.yaml").write_text(task)
    _lora(proj, "adapter: served:routing-r8")
    err = _error(proj, GPU + "  training_hours: 3\n  labelling_cost_per_example: 0.5\n")
    assert err.message == ("economics.n_labelled is needed: task 'toy' has no train split "
                           "to count labelled examples")
    assert err.line == 12
    (proj / "run.yaml").write_text(RUN + GPU + "  training_hours: 3\n"
                                   "  labelling_cost_per_example: 0.5\n  n_labelled: 800\n")
    load_config(proj / "run.yaml")
