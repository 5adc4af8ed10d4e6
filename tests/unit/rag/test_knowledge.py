from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from harness.errors import UsageError
from harness.rag.chunking import Chunk, ChunkSpec
from harness.rag.index import Hit
from harness.rag.knowledge import (
    KnowledgeSpec,
    RagSpec,
    fit_passages,
    gold_ids,
    open_retrieval,
)
from harness.tasks import load_task


def words(text: str) -> int:  # a whitespace tokenizer: one token per word
    return len(text.split())


def _hits(*sizes: int) -> list[Hit]:
    return [Hit(Chunk(f"p{i}#0", f"p{i}", " ".join(f"w{i}_{j}" for j in range(n))), 1.0, i + 1)
            for i, n in enumerate(sizes)]


def test_passages_kept_in_rank_order_within_budget() -> None:
    f = fit_passages(_hits(10, 10, 10), 28, words)
    assert [p["id"] for p in f.passages] == ["p0#0", "p1#0", "p2#0"]
    assert [p["truncated"] for p in f.passages] == [False, False, True]
    assert sum(p["tokens"] for p in f.passages) <= 28
    assert f.passages[2]["text"].endswith(" ...") and f.dropped == 0
    assert f.oversize == []


def test_a_tail_too_small_to_be_useful_is_dropped() -> None:
    f = fit_passages(_hits(10, 10, 10), 24, words)  # 4 tokens left for the third
    assert [p["id"] for p in f.passages] == ["p0#0", "p1#0"] and f.dropped == 1


def test_passage_larger_than_the_whole_budget_is_truncated_and_flagged() -> None:
    f = fit_passages(_hits(50, 5), 20, words)
    assert len(f.passages) == 1 and f.passages[0]["truncated"]
    assert words(f.passages[0]["text"]) <= 20
    assert f.oversize == ["p0#0"] and f.dropped == 1


def test_rag_spec_rejects_k_below_one() -> None:
    with pytest.raises(ValidationError, match="k must be at least 1"):
        RagSpec(k=0)
    with pytest.raises(ValidationError):
        RagSpec(budget_tokens=0)


def test_gold_ids_from_a_list_or_a_separated_string() -> None:
    assert gold_ids({"g": "a.md; b.md"}, "g") == {"a.md", "b.md"}
    assert gold_ids({"g": ["x", " "]}, "g") == {"x"}
    assert gold_ids({"g": "x"}, None) == set()


def _knowledge(tmp_path: Path) -> KnowledgeSpec:
    coll = tmp_path / "kb"
    coll.mkdir()
    (coll / "refunds.md").write_text("Refunds are paid by the ORCA desk within 9 days.")
    (coll / "keys.md").write_text("Lost door keys are replaced by the TIDE desk. " * 30)
    (coll / "logo.txt").write_bytes(b"\x00\x01binary")
    return KnowledgeSpec(collection="kb", chunking=ChunkSpec(size=400), gold_column="gold")


def test_retrieval_detail_records_passages_and_gold_metrics(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    task_file = tmp_path / "task.yaml"
    with caplog.at_level(logging.WARNING):
        r = open_retrieval(_knowledge(tmp_path), task_file, RagSpec(k=2, budget_tokens=40),
                           tmp_path / "store", warn_key="t/rag")
    assert any("logo.txt" in m for m in caplog.messages)  # binary file skipped, named
    d = r.passages("who pays refunds", {"gold": "refunds.md"}, words)
    assert d["retrieved"][0] == "refunds.md#0"
    assert d["passages"][0]["text"].startswith("Refunds")
    assert d["retrieval"] == {"gold": ["refunds.md"], "recall_at_k": 1.0,
                              "reciprocal_rank": 1.0}
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        d = r.passages("lost door keys", {}, words)
        r.passages("door keys lost again", {}, words)
    assert "retrieval" not in d and d["passages"][0]["truncated"]
    oversize = [m for m in caplog.messages if "larger than the whole budget" in m]
    assert len(oversize) == 1 and "keys.md#0" in oversize[0]  # warned once


def test_missing_collection_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        open_retrieval(KnowledgeSpec(collection="nowhere"), tmp_path / "t.yaml", RagSpec(),
                       None)


def test_an_unspaced_top_passage_is_truncated_by_character_not_dropped() -> None:
    # 10 Han characters, budget 7 tokens, one token per non-space character:
    # the longest prefix with " ..." (3 tokens) within 7 is 4 characters.
    hit = Hit(Chunk("z#0", "z", "一二三四五六七八九十"), 1.0, 1)
    fitted = fit_passages([hit], 7, lambda t: len(t.replace(" ", "")))
    assert [p["text"] for p in fitted.passages] == ["一二三四 ..."]
    assert fitted.passages[0]["tokens"] == 7 and fitted.passages[0]["truncated"]


def _gold_task(tmp_path: Path, golds: list[str]) -> Path:
    (tmp_path / "kb.jsonl").write_text('{"id": "p1", "text": "Zircon goes to ALPHA."}\n'
                                       '{"id": "p2", "text": "Quartz goes to BETA."}\n')
    (tmp_path / "test.jsonl").write_text("".join(
        f'{{"id": "e{i}", "text": "where?", "label": "A", "gold": "{g}"}}\n'
        for i, g in enumerate(golds)))
    (tmp_path / "task.yaml").write_text(
        "name: kb\nfamily: classification\nlabels: [A, B]\n"
        "data:\n  columns: {id: id, input: text, target: label}\n  files: {test: test.jsonl}\n"
        "knowledge: {collection: kb.jsonl, gold_column: gold}\n")
    return tmp_path / "task.yaml"


@pytest.mark.parametrize(("golds", "bad", "line", "hint"), [
    (["p1", "P1"], "P1", 2, "did you mean p1?"),  # case differs
    (["p2.txt"], "p2.txt", 1, "did you mean p2?"),  # a file name for a table id
    (["p1;zzz"], "zzz", 1, "2 passages, e.g. p1, p2"),  # nothing close: name some
])
def test_gold_ids_naming_no_passage_are_refused_at_load(
        tmp_path: Path, golds: list[str], bad: str, line: int, hint: str) -> None:
    # Issue 18 case 5b: these ids would make recall@k 0.0 while p1/p2 were retrieved.
    with pytest.raises(UsageError) as err:
        load_task(_gold_task(tmp_path, golds))
    assert err.value.message == f"gold passage id {bad!r} is not in the collection"
    assert (err.value.path, err.value.line, err.value.hint) == (
        str(tmp_path / "test.jsonl"), line, hint)


def test_gold_ids_that_name_passages_load(tmp_path: Path) -> None:
    task = load_task(_gold_task(tmp_path, ["p1", "p1;p2"]))
    assert [gold_ids(ex.fields, "gold") for ex in task.split("test")] == [{"p1"}, {"p1", "p2"}]
