"""The runner with the fake backend: records, caching, retries, interruption and resume."""

from __future__ import annotations

import functools
import re

import pytest

from harness import runner as runner_mod
from harness.backends.base import BackendOptions
from harness.client import CachedModel
from harness.config import load_config
from harness.runner import Runner, new_run_id
from harness.sampling import sample_split
from harness.tasks import load_task

ALL = {("dev", f"dv{i}") for i in range(4)} | {("test", f"te{i}") for i in range(6)}



@pytest.fixture
def no_sleep(monkeypatch):
    """Record backoff delays instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr(runner_mod, "CachedModel",
                        functools.partial(CachedModel, sleep=delays.append))
    return delays


def _runner(project, store, progress=None):
    return Runner(load_config(project.config), store, BackendOptions(), progress=progress)


def _keys(store, run_id):
    return [(r.split, r.example_id) for r in store.records(run_id)]


def test_run_records_every_example(project, store):
    seen: list[tuple[int, int, str]] = []
    result = _runner(project, store, lambda d, t, label: seen.append((d, t, label))).run()
    assert (result.resumed, result.records, result.skipped, result.errors) == (False, 10, 0, 0)
    assert (result.model_calls, result.cache_hits, result.retries) == (10, 0, 0)
    assert set(_keys(store, result.run_id)) == ALL and len(_keys(store, result.run_id)) == 10
    run = store.get_run(result.run_id)
    assert (run.status, run.model_calls, run.config_digest) == (
        "done", 10, load_config(project.config).digest)
    assert seen == [(i, 10, "toy/echo") for i in range(1, 11)]
    recs = {r.example_id: r for r in store.records(result.run_id)}
    assert recs["te4"].output["prediction"] == "BETA" and recs["te4"].target == "ALPHA"
    assert recs["te4"].scores["label_accuracy"]["value"] == 0.0
    assert recs["te0"].scores["label_accuracy"]["value"] == 1.0
    assert recs["te0"].output["detail"]["mode"] == "logprobs"
    assert recs["te0"].prompt_tokens == 8 and recs["te0"].model == "fake:keyword"
    assert recs["te0"].task_digest == load_task(project.task).digest


def test_second_run_is_a_new_run_served_from_cache(project, store):
    first = _runner(project, store).run()
    second = _runner(project, store).run()
    assert second.run_id != first.run_id and not second.resumed
    assert (second.model_calls, second.cache_hits, second.records) == (0, 10, 10)
    assert all(r.cached for r in store.records(second.run_id))
    assert store.get_run(second.run_id).model_calls == 0


def test_interrupted_run_resumes_where_it_stopped(project, store, edit):
    edit(project.config, "concurrency: 2", "concurrency: 1")

    def stop_after_three(done, total, label):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _runner(project, store, stop_after_three).run()
    (run,) = store.runs()
    assert run.status == "interrupted"
    assert len(_keys(store, run.run_id)) == 3
    first_calls = run.model_calls
    assert first_calls in (3, 4)  # at most one request was in flight

    seen: list[int] = []
    result = _runner(project, store, lambda d, t, label: seen.append(d)).run()
    assert result.resumed and result.run_id == run.run_id
    assert (result.skipped, result.records, result.errors) == (3, 7, 0)
    assert result.model_calls + result.cache_hits == 7
    assert result.model_calls == 10 - first_calls
    assert seen == list(range(4, 11))
    keys = _keys(store, run.run_id)
    assert len(keys) == len(set(keys)) == 10 and set(keys) == ALL
    (run,) = store.runs()
    assert (run.status, run.model_calls) == ("done", 10)


def test_transient_failures_are_retried(project, store, edit, no_sleep):
    edit(project.config, "fake:keyword", "fake:flaky")
    result = _runner(project, store).run()
    assert result.errors == 0 and result.records == 10
    assert result.retries == len(no_sleep) > 0
    assert result.model_calls == 10
    assert store.get_run(result.run_id).status == "done"


def test_failures_after_retries_are_recorded_and_retried_on_resume(project, store, edit,
                                                                   no_sleep):
    edit(project.config, "  - fake:keyword\n", "  - fake:flaky\nmax_retries: 0\n")
    first = _runner(project, store).run()
    assert first.errors > 0 and first.records == 10 and no_sleep == []
    errored = [r for r in store.records(first.run_id) if r.error is not None]
    assert len(errored) == first.errors
    assert all(r.error == "transient: fake transient failure" and r.scores == {}
               for r in errored)
    assert store.get_run(first.run_id).status == "incomplete"

    edit(project.config, "max_retries: 0", "max_retries: 2")
    # A different config digest: a new run, answered from the cache where possible.
    second = _runner(project, store).run()
    assert second.run_id != first.run_id
    assert second.errors == 0 and second.cache_hits == 10 - first.errors
    assert second.model_calls == first.errors


def test_incomplete_run_of_the_same_config_is_resumed(project, store, edit):
    edit(project.config, "  - fake:keyword\n", "  - fake:flaky\nmax_retries: 0\n")
    first = _runner(project, store).run()
    again = _runner(project, store).run()
    assert again.resumed and again.run_id == first.run_id
    assert again.skipped == 10 - first.errors
    assert again.records == first.errors  # only the failed ones were tried again


def test_limit_and_multiple_models(project, store, edit):
    edit(project.config, "concurrency: 2\n", "concurrency: 2\nlimit: {dev: 2, test: 3}\n")
    edit(project.config, "  - fake:keyword\n", "  - fake:keyword\n  - fake:nologprobs\n")
    result = _runner(project, store).run()
    assert result.records == 10
    recs = list(store.records(result.run_id))
    by_model = {m: [r for r in recs if r.model == m] for m in ("fake:keyword",
                                                               "fake:nologprobs")}
    for rows in by_model.values():
        assert sum(r.split == "dev" for r in rows) == 2
        assert sum(r.split == "test" for r in rows) == 3
    assert {r.output["detail"]["mode"] for r in by_model["fake:nologprobs"]} == {"generate"}
    assert {r.example_id for r in by_model["fake:keyword"]} == {
        r.example_id for r in by_model["fake:nologprobs"]}


def test_few_shot_calibrated_variant(project, store, edit):
    project.write("few.j2", "{% for s in shots %}{{ s.input }} => {{ s.target }}\n{% endfor %}"
                  "{{ input }} =>")
    project.write("few.yaml", "name: few\ntemplate: few.j2\nshots: 4\ncalibrate: true\n")
    edit(project.config, "  - echo.yaml\n", "  - few.yaml\n")
    result = _runner(project, store).run()
    assert result.records == 10 and result.errors == 0
    assert result.model_calls == 10 + 3  # plus the three content-free calibration prompts
    recs = list(store.records(result.run_id))
    assert all(r.output["detail"]["calibrated"] for r in recs)


def test_sample_split_is_seeded_and_keeps_order(project):
    task = load_task(project.task)
    test = task.split("test")
    assert sample_split(task, "test", None, 0) == test
    assert sample_split(task, "test", 99, 0) == test
    picked = sample_split(task, "test", 3, 5)
    assert len(picked) == 3 and picked == sample_split(task, "test", 3, 5)
    ids = [e.id for e in test]
    assert [e.id for e in picked] == sorted((e.id for e in picked), key=ids.index)
    draws = {tuple(e.id for e in sample_split(task, "test", 3, s)) for s in range(8)}
    assert len(draws) > 1
    assert set(e.id for e in sample_split(task, "test", 2, 5)) <= {e.id for e in picked}


def test_new_run_id_format():
    run_id = new_run_id("abcdef123456")
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}-abcdef", run_id)


def test_several_samples_per_example_are_cached_apart_and_clustered(project, store, edit):
    """samples: 3 at temperature > 0: three draws per example, analysed per example."""
    from tests.unit.resultskit import results_json

    edit(project.task, "metric: accuracy\n",
         "metric: accuracy\ngeneration: {temperature: 1.0}\n")
    project.write("blind.j2", "Answer:")
    project.write("blind.yaml", "name: blind\ntemplate: blind.j2\nscoring: generate\n")
    edit(project.variant, "template:", "scoring: generate\ntemplate:")
    edit(project.config, "  - echo.yaml\n", "  - echo.yaml\n  - blind.yaml\nsamples: 3\n")
    result = _runner(project, store).run()
    records = list(store.records(result.run_id))
    assert result.records == len(records) == 2 * 3 * 10
    assert {r.sample for r in records} == {0, 1, 2}
    assert result.model_calls == 3 * 10 + 3  # echo: one per draw; 'Answer:' one per sample
    texts = {r.example_id: set() for r in records}
    for r in records:
        if r.variant == "echo":
            texts[r.example_id].add(r.output["text"])
    assert any(len(t) > 1 for t in texts.values())  # the draws really differ
    again = _runner(project, store).run()
    assert again.model_calls == 0
    res = results_json(store.get_run(result.run_id), records)
    task = res["tasks"][0]
    echo = next(v for v in task["variants"] if v["name"] == "echo")
    assert echo["n"] == 6  # examples, not samples
    comp = task["comparisons"][0]
    assert comp["n"] == 6 and "repeated samples averaged per example" in comp["note"]


def test_thousands_of_echo_logprob_requests_are_announced_before_they_are_sent(
        project, store, caplog):
    import dataclasses
    import logging

    from harness.backends.base import create, parse_spec
    from harness.predict import PromptPlan
    from harness.runner import warn_echo_volume
    from harness.variants.prompt import load_variant

    backend = create(parse_spec("fake:keyword"), BackendOptions())
    model = CachedModel(backend, store)
    plan = PromptPlan(load_task(project.task), load_variant(project.variant), (), True)
    caplog.set_level(logging.WARNING, logger="harness.runner")
    assert warn_echo_volume(model, plan, 5000, "toy/echo") == 0  # in-process scoring: silent
    backend.capabilities = dataclasses.replace(backend.capabilities, remote_echo_scoring=True)
    assert warn_echo_volume(model, plan, 400, "toy/echo") == 800 and not caplog.records
    assert warn_echo_volume(model, plan, 600, "toy/echo") == 1200
    (rec,) = caplog.records
    assert "about 1200 echo-logprob requests" in rec.getMessage()
    assert "scoring: generate" in rec.getMessage()
    generating = dataclasses.replace(plan, use_logprobs=False)
    assert warn_echo_volume(model, generating, 5000, "toy/echo") == 0
