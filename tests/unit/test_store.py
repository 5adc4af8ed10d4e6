"""The SQLite store: cache keys, responses, runs, records and resume bookkeeping."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from harness.errors import UsageError
from harness.store import SCHEMA_VERSION, Record, Store, cache_key

IDENTITY = {"backend": "embedded", "model": "sha-1", "adapter": None}
REQUEST = {"prompt": "Q: hi\nA:", "max_tokens": 8, "stop": ["\n"], "temperature": 0.0,
           "seed": 0}



def _record(run_id="r1", example_id="e1", split="test", error=None, value=1.0):
    return Record(run_id, "toy", "tdig", "echo", "fake:keyword", split, example_id, 0, "ALPHA",
                  {"text": "ALPHA", "prediction": "ALPHA", "detail": {"mode": "logprobs"}},
                  {"label_accuracy": {"value": value, "explanation": "ok", "detail": {}}},
                  12, 1, 0.25, False, error)


def test_cache_key_is_stable():
    assert cache_key(IDENTITY, "generate", REQUEST) == cache_key(
        dict(reversed(IDENTITY.items())), "generate", dict(reversed(REQUEST.items())), 0)
    assert len(cache_key(IDENTITY, "generate", REQUEST)) == 64


@pytest.mark.parametrize(("identity", "kind", "request_", "sample"), [
    ({**IDENTITY, "backend": "ollama"}, "generate", REQUEST, 0),
    ({**IDENTITY, "model": "sha-2"}, "generate", REQUEST, 0),
    ({**IDENTITY, "adapter": "lora-digest"}, "generate", REQUEST, 0),
    (IDENTITY, "score", REQUEST, 0),
    (IDENTITY, "generate", {**REQUEST, "prompt": "Q: hi!\nA:"}, 0),
    (IDENTITY, "generate", {**REQUEST, "temperature": 0.7}, 0),
    (IDENTITY, "generate", {**REQUEST, "max_tokens": 9}, 0),
    (IDENTITY, "generate", {**REQUEST, "stop": []}, 0),
    (IDENTITY, "generate", {**REQUEST, "seed": 1}, 0),
    (IDENTITY, "generate", REQUEST, 1),
], ids=["backend", "model", "adapter", "kind", "prompt", "temperature", "max_tokens", "stop",
        "seed", "sample"])
def test_cache_key_changes_with_each_part(identity, kind, request_, sample):
    assert cache_key(identity, kind, request_, sample) != cache_key(IDENTITY, "generate",
                                                                    REQUEST, 0)


def test_put_and_get_response(store):
    key = cache_key(IDENTITY, "generate", REQUEST)
    assert store.get_response(key) is None
    store.put_response(key, "generate", IDENTITY, REQUEST, {"text": "hi", "n": [1, 2]}, 0.5)
    assert store.get_response(key) == {"text": "hi", "n": [1, 2], "_latency_s": 0.5}
    store.put_response(key, "generate", IDENTITY, REQUEST, {"text": "other"}, 9.0)
    assert store.get_response(key)["text"] == "hi"


def test_responses_survive_reopening(tmp_path):
    s = Store(tmp_path / "st")
    s.put_response("k", "score", IDENTITY, REQUEST, {"logprobs": [-1.0]}, 0.1)
    s.close()
    s2 = Store(tmp_path / "st")
    assert s2.get_response("k") == {"logprobs": [-1.0], "_latency_s": 0.1}
    s2.close()


def test_records_round_trip_in_stable_order(store):
    store.create_run("r1", "cfg.yaml", "dig", {"spec": {"seed": 1}})
    store.put_record(_record(example_id="e2"))
    store.put_record(_record(example_id="e1", split="dev", value=0.0))
    store.put_record(_record(example_id="e1"))
    recs = list(store.records("r1"))
    assert [(r.split, r.example_id) for r in recs] == [("dev", "e1"), ("test", "e1"),
                                                        ("test", "e2")]
    assert recs[1] == _record(example_id="e1")
    assert recs[0].scores["label_accuracy"]["value"] == 0.0
    assert list(store.records("other")) == []


def test_put_record_replaces_an_errored_one(store):
    store.put_record(_record(error="transient: boom"))
    assert store.done_keys("r1") == set()
    store.put_record(_record())
    (rec,) = store.records("r1")
    assert rec.error is None
    assert store.done_keys("r1") == {("toy", "echo", "fake:keyword", "test", "e1", 0)}


def test_a_record_is_whole_and_prompts_are_stored_once(store):
    # Two samples of one example share one rendered prompt: one row in prompts, both
    # records reference it and read back their input, fields, prompt and scorers.
    scorers = {"label_accuracy": {"args": {}, "version": "1"}}
    passages = [{"passage_id": "p1", "text": "ALPHA means the first kind"}]
    whole = dataclasses.replace(
        _record(), input="hi ALPHA", fields={"id": "e1", "text": "hi ALPHA", "n": 3},
        prompt="Message: hi ALPHA\nAnswer:", system="be brief", scorers=scorers,
        output={"text": "ALPHA", "prediction": "ALPHA", "detail": {"passages": passages}})
    store.put_record(whole)
    store.put_record(dataclasses.replace(whole, sample=1))
    first, second = store.records("r1")
    assert first == whole and second == dataclasses.replace(whole, sample=1)
    assert first.passages == passages
    assert store._read("SELECT COUNT(*) FROM prompts")[0][0] == 1
    assert store._read("SELECT COUNT(*) FROM scorer_sets")[0][0] == 1
    # Same prompt text under another system prompt is another prompt.
    store.put_record(dataclasses.replace(whole, sample=2, system=""))
    assert store._read("SELECT COUNT(*) FROM prompts")[0][0] == 2


def test_a_record_without_a_prompt_reads_back_none(store):
    store.put_record(_record(error="transient: boom"))
    (rec,) = store.records("r1")
    assert (rec.input, rec.fields, rec.prompt, rec.system, rec.scorers) == (
        None, None, None, None, None)
    assert rec.passages == []


def test_update_scores_is_gone(store):
    # `tunegate score` writes a new run: a record's scores are never edited in place.
    assert not hasattr(store, "update_scores")


def test_runs_and_finish(store):
    store.create_run("r1", "cfg.yaml", "dig", {"a": 1})
    store.create_run("r2", "cfg.yaml", "dig", {"a": 2})
    store.finish_run("r1", "done", 5)
    store.finish_run("r1", "done", 3)
    runs = store.runs()
    assert [r.run_id for r in runs] == ["r1", "r2"]
    assert (runs[0].status, runs[0].model_calls, runs[0].config) == ("done", 8, {"a": 1})
    assert runs[0].finished is not None and runs[1].finished is None
    assert runs[1].status == "running"


def test_get_run_latest_and_unknown(store):
    with pytest.raises(UsageError) as err:
        store.get_run("latest")
    assert err.value.hint == "runs: none yet: run `tunegate run` first"
    store.create_run("r1", "cfg.yaml", "dig", {})
    store.create_run("r2", "cfg.yaml", "dig", {})
    assert store.get_run("latest").run_id == "r2"
    assert store.get_run("r1").run_id == "r1"
    with pytest.raises(UsageError) as err:
        store.get_run("r9")
    assert err.value.message == "no run 'r9' in the store"
    assert err.value.path == str(store.path)
    assert err.value.hint == "runs: r1, r2"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set_pid(store, run_id, pid):
    store._db.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (pid, run_id))


def test_resumable_run(store):
    assert store.resumable_run("dig") is None
    store.create_run("r1", "cfg.yaml", "dig", {})
    assert store.resumable_run("dig") == "r1"  # our own process, unfinished
    assert store.resumable_run("other") is None
    store.finish_run("r1", "interrupted", 0)
    assert store.resumable_run("dig") == "r1"
    store.finish_run("r1", "done", 0)
    assert store.resumable_run("dig") is None

    store.create_run("r2", "cfg.yaml", "dig", {})
    _set_pid(store, "r2", 1)  # a live process that is not us: someone else is running it
    assert store.resumable_run("dig") is None
    _set_pid(store, "r2", _dead_pid())
    assert store.resumable_run("dig") == "r2"
    store.claim_run("r2")
    assert store.resumable_run("dig") == "r2"

    store.create_run("r3", "cfg.yaml", "dig", {})
    store.finish_run("r3", "incomplete", 0)
    assert store.resumable_run("dig") == "r3"  # newest unfinished first


def test_unwritable_store_is_a_user_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(UsageError) as err:
        Store(afile / "store")
    assert err.value.path == str(afile / "store")
    assert err.value.message.startswith("cannot open the store")
    assert "writable" in (err.value.hint or "")


def test_newer_schema_is_refused(tmp_path):
    s = Store(tmp_path / "st")
    s._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    s.close()
    with pytest.raises(UsageError, match=f"store schema version {SCHEMA_VERSION + 1} is newer"):
        Store(tmp_path / "st")
