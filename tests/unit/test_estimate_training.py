"""``estimate`` lists the adapters a run trains first, with a time from earlier trainings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import estimate_training as et
from harness.backends.base import ModelSpec
from harness.cli import main
from harness.tasks import load_task
from harness.variants.prompt import load_variant


def _record(root: Path, name: str, base: str, rate: float, wall: float, epochs: list[float]
            ) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "training.json").write_text(json.dumps({
        "base": {"sha256": base}, "metrics": {"seconds_per_epoch_per_100_examples": rate,
                                              "wall_s": wall, "epoch_seconds": epochs}}))


def test_measured_rate_is_the_median_of_this_bases_trainings(tmp_path):
    _record(tmp_path, "a", "abc", 10.0, 50.0, [10.0, 10.0])        # fixed 50 - 20 = 30
    _record(tmp_path, "b", "abc", 20.0, 100.0, [20.0, 20.0, 20.0])  # fixed 100 - 60 = 40
    _record(tmp_path, "c", "zzz", 99.0, 999.0, [1.0])               # another base: ignored
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "training.json").write_text("{not json")      # unreadable: skipped
    rate = et.measured_rate("abc", [tmp_path, tmp_path / "nowhere"])
    assert rate == et.Rate(15.0, 35.0, "measured: median of 2 earlier trainings of this base")
    assert rate.seconds(8, 3) == pytest.approx(35 + 3 * 8 / 100 * 15)  # 38.6 s
    assert et.measured_rate("nope", [tmp_path]) is None


@pytest.fixture
def lora(project, monkeypatch):
    """A lora variant that trains on the spot, with the fake backend treated as trainable."""
    project.write("ft.yaml", "name: ft\nkind: lora\ntemplate: echo.j2\ntrain: {epochs: 3}\n")
    monkeypatch.setattr(et, "_TRAINABLE", ("fake", "embedded"))
    monkeypatch.setattr(et, "base_of", lambda model: ("base.gguf", "abc"))
    return project


def test_plan_from_measured_default_or_unknown(lora, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./adapters here
    task, variant = load_task(lora.task), load_variant(lora.root / "ft.yaml")
    store = tmp_path / "st"
    spec, plan = et.plan_adapter(task, variant, ModelSpec("fake", "keyword"), store)
    # No earlier training and not the embedded model: no rate to go on.
    assert spec == ModelSpec("fake", "keyword") and plan is not None
    assert (plan.examples, plan.epochs, plan.seconds) == (8, 3, None)
    assert plan.out_dir.parent == store / "adapters" and plan.out_dir.name.startswith("toy-ft-")
    # The embedded model: the stated default, 40 s + 3 epochs x 8/100 x 7.5 s = 41.8 s.
    _, plan = et.plan_adapter(task, variant, ModelSpec("embedded", ""), store)
    assert plan is not None and plan.seconds == pytest.approx(41.8)
    assert plan.basis == et.DEFAULT_RATE.basis
    # Earlier trainings of this base win: 35 s + 3 x 8/100 x 15 s = 38.6 s.
    _record(store / "adapters", "old", "abc", 10.0, 50.0, [10.0, 10.0])
    _record(store / "adapters", "old2", "abc", 20.0, 100.0, [20.0, 20.0, 20.0])
    _, plan = et.plan_adapter(task, variant, ModelSpec("embedded", ""), store)
    assert plan is not None and plan.seconds == pytest.approx(38.6)


def test_an_adapter_already_trained_is_not_planned(lora, tmp_path, monkeypatch):
    task, variant = load_task(lora.task), load_variant(lora.root / "ft.yaml")
    out = et.adapter_dir(tmp_path, task, variant, "abc")
    out.mkdir(parents=True)
    (out / "training.json").write_text("{}")
    adapted = ModelSpec("fake", "keyword", str(out / "adapter.gguf"))
    monkeypatch.setattr(et, "resolve_adapter", lambda *a: type("R", (), {"spec": adapted})())
    assert et.plan_adapter(task, variant, ModelSpec("fake", "keyword"), tmp_path) == (
        adapted, None)


def test_cli_estimate_lists_the_training_and_counts_nothing_cached_for_it(
        lora, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "st"
    assert main(["run", str(lora.config), "--store", str(store), "--reports",
                 str(tmp_path / "rep")]) == 0  # caches echo's 10 prompts
    _record(store / "adapters", "old", "abc", 10.0, 50.0, [10.0, 10.0])
    _record(store / "adapters", "old2", "abc", 20.0, 100.0, [20.0, 20.0, 20.0])
    text = lora.config.read_text().replace("  - echo.yaml\n", "  - echo.yaml\n  - ft.yaml\n")
    lora.config.write_text(text)
    capsys.readouterr()
    assert main(["estimate", str(lora.config), "--store", str(store)]) == 0
    lines = capsys.readouterr().out.splitlines()
    echo = next(x for x in lines if x.startswith("toy ") and " echo " in x).split()
    ft = next(x for x in lines if x.startswith("toy ") and " ft " in x).split()
    assert echo[3:5] == ["10", "10"]  # 4 dev + 6 test requests, all cached by the run
    # ft sends the very same prompts, but to an adapter that does not exist yet: 0 cached.
    assert ft[3:5] == ["10", "0"]
    assert any(x.startswith("total: 10 model calls to make (after training), 10 cached")
               for x in lines)
    i = lines.index("adapters to train first (1; their requests above are all new):")
    assert lines[i + 2].split() == ["toy", "ft", "fake:keyword", "8", "3", "39", "s"]
    assert lines[i + 3] == "training: about 39 s in all"  # 38.6 s
    assert lines[i + 4] == ("  estimate basis: measured: median of 2 earlier trainings of "
                            "this base")
