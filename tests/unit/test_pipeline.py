"""One pipeline: ``estimate`` is the run's plan without execution, so its counts are the run's.

Each test counts the model calls the estimate says a run will make, then
executes the run and compares with the calls the run's client counted
(``RunResult.model_calls``, :class:`harness.client.CachedModel`'s counter).
Models that need a server are replaced by the ``fake`` backend; an adapter
trained on the spot is written by a stand-in trainer (a real training takes a
minute a task) and served by the fake backend under its own identity, as a
real backend keys its cache on the adapter.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import estimate_training, pipeline
from harness.backends import fake
from harness.backends.base import BackendOptions, ModelSpec
from harness.config import RunConfig, load_config
from harness.errors import UsageError
from harness.store import Store
from harness.variants import lora

ROOT = Path(__file__).resolve().parents[2]
FAKE = ModelSpec("fake", "keyword")


class _AdaptedFake(fake.FakeBackend):
    """The fake backend serving an adapter: its identity names it, as a real backend's does."""

    adapter: str | None = None

    @property
    def identity(self) -> dict[str, str | None]:
        return {"backend": "fake", "model": self.mode, "adapter": self.adapter}


@pytest.fixture
def trainable(monkeypatch, tmp_path):
    """Let the fake backend train (a stand-in trainer) and serve adapters, local or remote."""
    create = fake.create

    def create_adapted(spec: ModelSpec, options: BackendOptions) -> fake.FakeBackend:
        backend = create(spec, options)
        if spec.adapter:
            backend.__class__ = _AdaptedFake
            backend.adapter = spec.adapter  # type: ignore[attr-defined]
        return backend

    trained: list[Path] = []

    def train_adapter(task: Any, *, out_dir: Path, **_: Any) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "adapter.gguf").write_bytes(b"stand-in")
        (out_dir / "training.json").write_text(json.dumps({"base": {"sha256": "abc"}}))
        trained.append(out_dir)

    for module in (lora, estimate_training):
        monkeypatch.setattr(module, "_TRAINABLE", ("fake", "embedded", "hf"))
        monkeypatch.setattr(module, "base_of", lambda model: ("base.gguf", "abc"))
    monkeypatch.setattr(fake, "create", create_adapted)
    monkeypatch.setattr("harness.finetune.train_adapter", train_adapter)
    monkeypatch.setattr("harness.training.export.check_adapter_base", lambda *a: None)
    # A remote adapter (ollama:NAME, served:NAME) is served by the fake backend by name.
    monkeypatch.setattr(lora, "_remote", lambda variant, model, given: dataclasses.replace(
        model, adapter=given))
    monkeypatch.chdir(tmp_path)  # no ./adapters from the working tree
    return trained


def _estimated_and_run(cfg: RunConfig, root: Path) -> tuple[pipeline.Estimate, int]:
    """The estimate's model calls on an empty store, and the run's (a separate plan)."""
    store = Store(root)
    try:
        est = pipeline.estimate(pipeline.plan(cfg, store), store)
        result = pipeline.execute(pipeline.plan(cfg, store), store)
    finally:
        store.close()
    assert result.errors == 0
    return est, result.model_calls


def test_samples_three_counts_every_sample(project, edit, tmp_path):
    # The case: estimate said 12, the run made 36. Generating (no
    # logprobs), each of the run's 3 samples is its own request: 4 dev + 6
    # test examples x 3 samples = 30 calls; a variant drawing 2 answers per
    # sample (self-consistency) doubles it: 60. Total 90.
    edit(project.config, "concurrency: 2\n", "concurrency: 2\nsamples: 3\n")
    edit(project.config, "fake:keyword", "fake:nologprobs")
    edit(project.config, "  - echo.yaml\n", "  - echo.yaml\n  - sc.yaml\n")
    project.write("sc.yaml", "name: sc\ntemplate: echo.j2\nsamples: 2\naggregate: majority\n"
                  "temperature: 0.7\n")
    est, calls = _estimated_and_run(load_config(project.config), tmp_path / "st")
    assert (est.model_calls, est.cached) == (90, 0)
    assert calls == 90


def test_samples_three_with_logprobs_score_each_example_once(project, edit, tmp_path):
    # Label scoring has no sampling: the 3 samples of an example send the same
    # request (sample index 0), so the run calls once per example: 10 calls,
    # the other 20 of the 30 requests are the run's own cache hits.
    edit(project.config, "concurrency: 2\n", "concurrency: 2\nsamples: 3\n")
    est, calls = _estimated_and_run(load_config(project.config), tmp_path / "st")
    assert sum(r.requests for r in est.rows) == 30
    assert (est.model_calls, est.cached) == (10, 20)
    assert calls == 10


def test_a_lora_still_to_train_is_listed_and_its_calls_counted(project, edit, tmp_path,
                                                                trainable):
    # The case: estimate said "0 model calls to make, 8 cached" and the
    # run trained an adapter and made the calls. echo: 4 dev + 6 test = 10
    # calls; ft (the adapter to train, its own cache keys) another 10: 20.
    project.write("ft.yaml", "name: ft\nkind: lora\ntemplate: echo.j2\ntrain: {epochs: 2}\n")
    edit(project.config, "  - echo.yaml\n", "  - echo.yaml\n  - ft.yaml\n")
    cfg = load_config(project.config)
    root = tmp_path / "st"
    est, calls = _estimated_and_run(cfg, root)
    [plan] = est.plan.trainings
    assert (plan.task, plan.variant, plan.examples, plan.epochs) == ("toy", "ft", 8, 2)
    assert est.model_calls == 20 and calls == 20
    assert len(trainable) == 1  # the run trained it
    store = Store(root)
    again = pipeline.estimate(pipeline.plan(cfg, store), store)
    assert (again.plan.trainings, again.model_calls, again.cached) == ((), 0, 20)


def _run_configs() -> list[Path]:
    examples = sorted((ROOT / "examples").rglob("*.yaml"))
    fixtures = sorted((ROOT / "tests").rglob("*.yaml"))
    return [p for p in examples + fixtures if _is_run_config(p)]


def _is_run_config(path: Path) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")  # a not-UTF-8 fixture
    return "\nmodels:" in f"\n{text}" and "\nvariants:" in f"\n{text}"


def test_every_run_config_is_found():
    names = {p.relative_to(ROOT).as_posix() for p in _run_configs()}
    assert {"examples/demo.yaml", "examples/gate.yaml", "examples/nightly.yaml",
            "examples/deploy/ollama.yaml", "examples/deploy/vllm_multi_lora.yaml",
            "tests/bad_inputs/_base/run.yaml"} <= names


def _param(path: Path) -> Any:
    name = path.relative_to(ROOT).as_posix()
    # The demo: six tasks, seven variants, a search and MiniLM shots: two minutes.
    marks = [pytest.mark.slow] if name == "examples/demo.yaml" else []
    return pytest.param(path, id=name, marks=marks)


BAD_INPUTS = ROOT / "tests" / "bad_inputs"


def _in_place(path: Path, tmp_path: Path) -> Path:
    """A bad-input case's run config laid over its base project, as its own test does."""
    case = path.parent
    if case.parent != BAD_INPUTS or case.name == "_base":
        return path
    proj = tmp_path / "proj"
    shutil.copytree(BAD_INPUTS / "_base", proj)
    shutil.copytree(case, proj, dirs_exist_ok=True, ignore=shutil.ignore_patterns("case.yaml"))
    spec = yaml.safe_load((case / "case.yaml").read_text(encoding="utf-8"))
    for rel in spec.get("delete", []):
        (proj / rel).unlink()
    return proj / path.name


@pytest.mark.parametrize("path", [_param(p) for p in _run_configs()])
def test_estimated_calls_equal_the_runs(path, tmp_path, trainable):
    try:
        cfg = load_config(_in_place(path, tmp_path))
    except UsageError:
        pytest.skip("a bad-input fixture whose config does not load (its own test checks that)")
    cfg = dataclasses.replace(cfg, models=(FAKE,))  # every config here names one model
    store = Store(tmp_path / "refused")
    try:
        pipeline.estimate(pipeline.plan(cfg, store), store)
    except UsageError as exc:  # what the estimate refuses, the run refuses, before any call
        with pytest.raises(UsageError, match=re.escape(exc.message)):
            pipeline.execute(pipeline.plan(cfg, store), store)
        return
    est, calls = _estimated_and_run(cfg, tmp_path / "st")
    assert calls > 0
    if not est.plan.searches:
        assert est.model_calls == calls
        return
    # A prompt search's later rounds are a worst case: which candidates survive
    # (and whether their prompts repeat another's) is known only once it ran.
    # Everything else is exact: the run makes at least the first round's and
    # the config variants' calls, and at most the worst case.
    later = sum(r.requests for r in est.rows if r.variant.startswith("(search: "))
    assert est.model_calls - later <= calls <= est.model_calls


def test_a_loaded_config_gives_its_tasks_one_minilm_loaded_only_when_used(project, edit):
    # No module-level model: the encoder belongs to the loaded config (the run),
    # shared by all its tasks, and two configs never share one.
    project.write("task2.yaml", project.task.read_text().replace("name: toy", "name: toy2"))
    edit(project.config, "  - task.yaml\n", "  - task.yaml\n  - task2.yaml\n")
    first, second = load_config(project.config), load_config(project.config)
    a, b = first.tasks
    assert a.encoder is b.encoder
    assert first.tasks[0].encoder is not second.tasks[0].encoder
    # A run that needs no similarity (echo on fake) never loads it.
    store = Store(project.root / "st")
    pipeline.execute(pipeline.plan(first, store), store)
    assert not a.encoder.loaded


def _judged_project(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "tasks", tmp_path / "tasks")
    shutil.copytree(ROOT / "baselines", tmp_path / "baselines")
    tone = tmp_path / "tasks" / "house_tone.yaml"
    tone.write_text(tone.read_text() + "judge: {model: 'fake:keyword', rubric: 'Is it warm?'}\n")
    config = tmp_path / "run.yaml"
    config.write_text("name: judged\nseed: 3\ntasks: [tasks/house_tone.yaml]\n"
                      "variants: [baselines/zero_shot.yaml, baselines/few_shot.yaml]\n"
                      "models: [fake:keyword]\nlimit: {dev: 3, test: 5}\n")
    return config


def test_the_plan_counts_the_judges_calls(tmp_path):
    # A tone task whose judge rates every output: 2 variants x (3 dev + 5 test)
    # = 16 outputs, so at most 16 judge calls on top of the 16 answers. The
    # judge's prompt holds the answer, so only the run knows how many repeat.
    config = _judged_project(tmp_path)
    est, calls = _estimated_and_run(load_config(config), tmp_path / "st")
    assert est.plan.judged == 16
    assert est.model_calls == 16
    assert est.model_calls < calls <= est.model_calls + est.plan.judged


def test_cli_estimate_prints_the_plan_and_the_judges_calls(tmp_path, capsys):
    from harness.cli import main

    config = _judged_project(tmp_path)
    assert main(["estimate", str(config), "--store", str(tmp_path / "st")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "total: 16 model calls to make, 0 cached (add an economics section to price them)" \
        in lines
    assert "plan: 16 examples x samples to score" in lines
    assert any(line.startswith("judge: at most 16 more model calls") for line in lines)
