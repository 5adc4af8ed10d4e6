"""``tunegate score``: re-score a stored run with today's scorers, zero model calls (issue 15).

The toy project (tests/unit/conftest.py): one classification task, the
``echo`` variant, ``fake:keyword``; echo is right on all 4 dev examples and
on 4 of the 6 test examples, so its label_accuracy is 8 of 10 records.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from harness.backends import base as backends_base
from harness.backends.fake import FakeBackend
from harness.cli import main
from harness.scoring.base import scorer_identities, scorers_for_task
from harness.store import Store
from harness.tasks import load_task
from tests.unit.test_storeschema import make_v1_store

ROOT = Path(__file__).resolve().parents[2]


def _run(project, tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["run", str(project.config), "--store", str(store),
                 "--reports", str(tmp_path / "reports")]) == 0
    capsys.readouterr()
    return store


def _no_model_calls(monkeypatch):
    calls: list[str] = []

    def count(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"tunegate score called the model ({name})")
        return call

    monkeypatch.setattr(backends_base, "create", count("create"))
    monkeypatch.setattr(FakeBackend, "score", count("score"))
    monkeypatch.setattr(FakeBackend, "generate", count("generate"))
    return calls


def test_a_run_records_input_prompt_and_scorers(project, tmp_path, capsys):
    store = Store(_run(project, tmp_path, capsys))
    recs = {(r.split, r.example_id): r for r in store.records(store.get_run("latest").run_id)}
    rec = recs[("test", "te4")]
    # conftest: test row 4 is gold ALPHA, its text names BETA; echo.j2 is
    # "Message: {{ input }}\nAnswer:" and fake:keyword takes no system prompt.
    assert rec.input == "te message 4 is about BETA"
    assert rec.fields == {"id": "te4", "text": "te message 4 is about BETA", "label": "ALPHA"}
    assert rec.prompt == "Message: te message 4 is about BETA\nAnswer:"
    assert rec.system == ""
    assert rec.scorers == {"label_accuracy": {"args": {}, "version": "1"}}
    # ten examples, ten distinct prompts, each stored once
    assert store._read("SELECT COUNT(*) FROM prompts")[0][0] == 10
    store.close()


def test_score_makes_a_new_run_with_zero_model_calls(project, tmp_path, capsys, monkeypatch):
    store_dir = _run(project, tmp_path, capsys)
    calls = _no_model_calls(monkeypatch)
    assert main(["score", "--store", str(store_dir), "--reports", str(tmp_path / "rs")]) == 0
    out = capsys.readouterr().out
    assert calls == []
    store = Store(store_dir)
    source, new = store.runs()
    assert f"re-scored run {source.run_id} into run {new.run_id}: 10 records, 0 model calls" \
        in out
    assert "no score changed (1 task/variant/scorer cells compared)" in out
    assert new.config["rescored_from"] == source.run_id and new.model_calls == 0
    assert new.config_digest == source.config_digest and new.status == "done"
    old, fresh = list(store.records(source.run_id)), list(store.records(new.run_id))
    assert [dataclasses.replace(r, run_id="x") for r in old] == [
        dataclasses.replace(r, run_id="x") for r in fresh]
    # its report is written like run's, from the store
    results = json.loads((tmp_path / "rs" / new.run_id / "results.json").read_text())
    assert results["run_id"] == new.run_id
    assert (tmp_path / "rs" / new.run_id / "index.html").is_file()
    store.close()


def test_score_says_which_scores_changed(project, tmp_path, capsys, monkeypatch):
    store_dir = _run(project, tmp_path, capsys)
    store = Store(store_dir)
    run = store.get_run("latest")
    # An "old, buggy" scorer (version 0) had scored two right answers (dv0, te0) as wrong.
    for rec in store.records(run.run_id):
        if rec.example_id in ("dv0", "te0"):
            store.put_record(dataclasses.replace(
                rec, scores={"label_accuracy": {"value": 0.0, "explanation": "bug",
                                                "detail": {}}},
                scorers={"label_accuracy": {"args": {}, "version": "0"}}))
    store.close()
    _no_model_calls(monkeypatch)
    assert main(["score", run.run_id, "--store", str(store_dir),
                 "--reports", str(tmp_path / "rs")]) == 0
    out = capsys.readouterr().out
    # old mean: 8 right minus the 2 mis-scored = 6/10 = 0.6; today's: 8/10 = 0.8
    assert ("  changed: toy/echo label_accuracy (version 0 -> 1): 2 of 10 examples changed, "
            "mean 0.6 -> 0.8") in out


def test_score_refuses_a_run_whose_task_file_changed(project, tmp_path, capsys):
    store_dir = _run(project, tmp_path, capsys)
    test_file = project.data / "test.jsonl"
    test_file.write_text(test_file.read_text().replace("is about", "names"))
    assert main(["score", "--store", str(store_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{project.task}: task file changed since run ")
    assert "task 'toy' (this file or its data files) has digest" in err
    assert "restore the files as they were for that run" in err
    store = Store(store_dir)
    assert len(store.runs()) == 1  # nothing written
    store.close()


def test_score_refuses_a_version_1_run(tmp_path, capsys):
    root = make_v1_store(tmp_path / "st")
    assert main(["score", "r1", "--store", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{root / 'store.sqlite'}: run r1 was written by store schema "
                          "version 1: its records keep no inputs, so they cannot be re-scored")
    db = sqlite3.connect(root / "store.sqlite")
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 2
    db.close()


def test_score_without_a_store_is_a_user_error(tmp_path, capsys):
    assert main(["score", "--store", str(tmp_path / "none")]) == 2
    assert "no store here" in capsys.readouterr().err


def test_scorer_identities_name_the_settings_each_scorer_reads(tmp_path):
    (tmp_path / "d.jsonl").write_text(
        '{"id": "a", "input": "x", "target": "{\\"k\\": 1}"}\n' * 1)
    (tmp_path / "f.yaml").write_text(
        "name: f\nfamily: format\ndata:\n  files: {test: d.jsonl}\n"
        "normalize: {case: false}\n")
    ids = scorer_identities(load_task(tmp_path / "f.yaml"))
    norm = {"case": False, "whitespace": True, "punctuation": False, "numbers": True}
    assert ids["field_f1"] == {"args": {"normalize": norm}, "version": "1"}
    assert ids["parse_strict"] == {"args": {"format": "json"}, "version": "1"}
    assert "regex_match" not in ids  # a json task: the regex scorer does not run


@pytest.mark.parametrize("argv", [["score", "--help"]])
def test_score_help_has_an_example(argv, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    assert "re-score a stored run with today's scorers" in out.lower()
    assert "tunegate score latest" in out


@pytest.mark.parametrize("path", sorted((ROOT / "tasks").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_demo_task_has_a_stored_identity_for_each_scorer(path):
    task = load_task(path)
    ids = scorer_identities(task)
    assert sorted(ids) == sorted(info.name for info in scorers_for_task(task))
    assert json.loads(json.dumps(ids)) == ids  # what the store keeps reads back the same
    assert all(ident["version"] == "1" for ident in ids.values())
    if path.stem == "house_tone":  # its one extra reference column, as the task file says
        assert ids["chrf_reference"]["args"] == {"data.columns.references": ["house_alt"]}
