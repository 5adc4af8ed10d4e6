"""Run configs: relative paths, digests, model specs and config-level checks."""

from __future__ import annotations

import pytest

from harness.config import load_config
from harness.errors import UsageError


def test_load_resolves_relative_to_the_config(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(project.config)
    assert cfg.spec.name == "toyrun" and cfg.spec.seed == 7
    assert [t.name for t in cfg.tasks] == ["toy"]
    assert [v.name for v in cfg.variants] == ["echo"]
    assert [str(m) for m in cfg.models] == ["fake:keyword"]
    assert cfg.spec.splits == ["dev", "test"] and cfg.spec.limit == {}
    assert (cfg.spec.concurrency, cfg.spec.max_retries) == (2, 4)
    assert (cfg.spec.analysis.resamples, cfg.spec.analysis.confidence) == (200, 0.95)
    assert len(cfg.digest) == 16


def test_to_json_records_what_was_run(project):
    cfg = load_config(project.config)
    rec = cfg.to_json()
    assert rec["spec"]["seed"] == 7
    assert rec["models"] == ["fake:keyword"]
    assert rec["tasks"] == [{"name": "toy", "path": str(project.task.resolve()),
                             "digest": cfg.tasks[0].digest, "family": "classification",
                             "labels": ["ALPHA", "BETA"], "metric": "accuracy",
                             "primary": "label_accuracy", "n_train": 8,
                             "normalize": None}]  # a classification task has no normalize
    assert rec["variants"] == [{"name": "echo", "path": str(project.variant.resolve()),
                                "digest": cfg.variants[0].digest, "kind": "prompt"}]


def test_digest_changes_with_experiment(project, edit):
    d0 = load_config(project.config).digest
    assert load_config(project.config).digest == d0
    edit(project.config, "seed: 7", "seed: 8")
    d1 = load_config(project.config).digest
    project.write("echo.j2", "Text: {{ input }}\nAnswer:")
    d2 = load_config(project.config).digest
    project.split("test", [("ALPHA", "ALPHA"), ("BETA", "BETA")], "te")
    d3 = load_config(project.config).digest
    assert len({d0, d1, d2, d3}) == 4


def test_real_demo_config(root):
    cfg = load_config(root / "examples" / "demo.yaml")
    assert [v.name for v in cfg.variants] == ["bare", "zero_shot", "few_shot", "calibrated",
                                              "rag", "lora", "lora_gen"]
    assert [t.family for t in cfg.tasks] == ["classification", "format", "tone", "terminology",
                                             "classification", "classification"]
    assert [str(m) for m in cfg.models] == ["embedded"]
    assert cfg.spec.limit == {"dev": 40, "test": 40} and cfg.spec.seed == 13
    runs = {(t.name, v.name) for t in cfg.tasks for v in cfg.variants if v.applies_to(t)}
    # Classification: bare, zero, few, calibrated, lora (x3 tasks); rag only on the knowledge
    # task; the generation families: zero, few, lora_gen.
    assert len(runs) == 5 + 3 + 3 + 3 + 6 + 5
    assert ("corvane_policies", "rag") in runs and ("support_routing", "rag") not in runs
    # The prompt search: few_shot x {4, 8} shots x {stratified, similar}, less few_shot itself.
    assert [c.variant.name for c in cfg.candidates] == [
        "few_shot__k4_stratified", "few_shot__k4_similar", "few_shot__k8_similar"]


@pytest.mark.parametrize(("old", "new", "line", "message", "hint"), [
    ("  - echo.yaml\n", "  - echo.yaml\n  - echo.yaml\n", 5, "two variants are named 'echo'",
     None),
    ("  - task.yaml\n", "  - task.yaml\n  - task.yaml\n", 3, "two tasks are named 'toy'", None),
    ("  - fake:keyword\n", "  - fake\n", 8, "model spec 'fake' needs a model", "e.g. fake:MODEL"),
    ("  - fake:keyword\n", "  - fakke:keyword\n", 8, "unknown backend 'fakke'",
     "did you mean 'fake'? valid: "),
    ("analysis: {resamples: 200}", "analysis: {resamples: 10}", 10,
     "analysis.resamples: Input should be greater than or equal to 200", None),
    ("concurrency: 2\n", "concurrency: 2\nlimit: {train: 3}\n", 10, "limit.train", None),
    ("concurrency: 2\n", "concurency: 2\n", 9, "unknown key 'concurency'",
     "did you mean 'concurrency'? valid: name, "),
    ("variants:\n  - echo.yaml\n", "variants: []\n", 5, "variants: List should have at least 1",
     None),
])
def test_config_errors(project, edit, old, new, line, message, hint):
    edit(project.config, old, new)
    with pytest.raises(UsageError) as err:
        load_config(project.config)
    assert (err.value.path, err.value.line) == (str(project.config), line)
    assert err.value.message.startswith(message), err.value.message
    if hint is None:
        assert err.value.hint is None
    else:  # the list of valid names grows as backends register
        assert err.value.hint is not None and err.value.hint.startswith(hint), err.value.hint
