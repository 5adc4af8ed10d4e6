"""A rag variant through the real runner, analysis and report on the scripted fake backend.

The toy knowledge task: each message asks where a topic goes; which queue
(ALPHA or BETA) handles a topic is written only in the collection. The
``fake:keyword`` backend picks the label that occurs near the end of the
prompt, so it can only answer when the right passage is in the prompt.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_config
from harness.estimate import estimate
from harness.store import Store
from tests.unit.conftest import write_jsonl

TOPICS = {"zircon": "ALPHA", "quartz": "BETA", "garnet": "ALPHA", "basalt": "BETA",
          "marble": "ALPHA", "cobalt": "BETA", "pewter": "ALPHA", "bronze": "BETA"}

TASK = """\
name: kb
family: classification
description: Which queue handles the topic?
data:
  columns: {id: id, input: text, target: label}
  files: {train: data/train.jsonl, dev: data/dev.jsonl, test: data/test.jsonl}
labels:
  ALPHA: a queue
  BETA: a queue
metric: accuracy
knowledge:
  collection: kb
  chunking: {size: 40}
  gold_column: gold
"""

RAG = """\
name: rag
kind: rag
template: rag.j2
rag: {k: 1, budget_tokens: 60}
"""

RUN = """\
name: kbrun
seed: 3
tasks: [task.yaml]
variants: [echo.yaml, rag.yaml]
models: ["fake:keyword"]
analysis: {resamples: 300}
"""


def _rows(prefix: str, phrasing: list[str]) -> list[dict[str, str]]:
    return [{"id": f"{prefix}-{topic}-{i}", "text": p.format(topic=topic), "label": label,
             "gold": f"{topic}.md"}
            for i, p in enumerate(phrasing) for topic, label in TOPICS.items()]


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kbproj"
    (root / "kb").mkdir(parents=True)
    for topic, label in TOPICS.items():
        (root / "kb" / f"{topic}.md").write_text(
            f"Requests about {topic} are handled by one team.\nQueue: {label}.\n")
    write_jsonl(root / "data" / "train.jsonl", _rows("tr", ["Who takes {topic}?"]))
    write_jsonl(root / "data" / "dev.jsonl", _rows("dv", ["Where do {topic} requests go?"]))
    write_jsonl(root / "data" / "test.jsonl",
                _rows("te", ["Where do {topic} requests go?", "I have a {topic} question",
                             "Send my {topic} request on", "Who handles {topic}?"]))
    (root / "task.yaml").write_text(TASK)
    (root / "echo.j2").write_text("Message: {{ input }}\nQueue:")
    (root / "echo.yaml").write_text("name: echo\ntemplate: echo.j2\n")
    (root / "rag.j2").write_text(
        "{% for p in passages %}{{ p.text }}\n{% endfor %}Message: {{ input }}\nQueue:")
    (root / "rag.yaml").write_text(RAG)
    (root / "run.yaml").write_text(RUN)
    return root


def test_rag_run_records_passages_metrics_and_diagnosis(kb: Path, tmp_path: Path) -> None:
    store, reports = tmp_path / "store", tmp_path / "reports"
    assert main(["run", str(kb / "run.yaml"), "--store", str(store),
                 "--reports", str(reports)]) == 0
    assert list((store / "rag").glob("bm25-*")), "index cached under the store"
    db = sqlite3.connect(store / "store.sqlite")
    rows = db.execute("SELECT example_id, output FROM records WHERE variant='rag' "
                      "AND split='test'").fetchall()
    assert len(rows) == 32
    for ex_id, out in rows:
        detail = json.loads(out)["detail"]
        topic = ex_id.split("-")[1]
        assert detail["retriever"] == "bm25" and detail["k"] == 1
        assert detail["passages"][0]["passage_id"] == f"{topic}.md"
        assert "Queue:" in detail["passages"][0]["text"]
        assert detail["retrieval"] == {"gold": [f"{topic}.md"], "recall_at_k": 1.0,
                                       "reciprocal_rank": 1.0}
    # each record is whole: its rendered prompt shows the passage it keeps, then its input
    kept = Store(store)
    rag = [r for r in kept.records(kept.get_run("latest").run_id) if r.variant == "rag"]
    assert len(rag) == 40 and all(r.input and r.prompt for r in rag)
    for rec in rag:
        assert rec.prompt == f"{rec.passages[0]['text']}\nMessage: {rec.input}\nQueue:"
    kept.close()
    run_dir = next(reports.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    task = results["tasks"][0]
    by_name = {v["name"]: v for v in task["variants"]}
    assert by_name["rag"]["score"] == 1.0
    assert by_name["echo"]["score"] < 0.8  # a guess without the policy
    assert by_name["rag"]["retrieval"] == {"retriever": "bm25", "k": 1, "n_gold": 32,
                                           "recall_at_k": 1.0, "mrr": 1.0,
                                           "n_queries": 32, "no_passage": 0}
    assert "retrieval" not in by_name["echo"]
    assert task["diagnosis"]["label"] == "knowledge gap"
    assert task["diagnosis"]["evidence"]["rag_vs_prompt"]["ci_low"] > 0
    md = (run_dir / "report.md").read_text()
    assert "Diagnosis: **knowledge gap**" in md and "| rag | bm25 | 1 | 1.000 | 1.000 |" in md
    html = (run_dir / "index.html").read_text()
    assert "Diagnosis: knowledge gap" in html
    assert "[zircon.md] Requests about zircon" in html  # retrieved passage, side by side
    # estimate renders the same prompts (passages included): everything is cached
    rows = {r.variant: r for r in estimate(load_config(kb / "run.yaml"), Store(store))}
    assert rows["rag"].cached == rows["rag"].requests == 40
    assert rows["rag"].prompt_tokens > rows["echo"].prompt_tokens


def test_rag_variant_is_checked_at_validate(kb: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    (kb / "rag.yaml").write_text(RAG.replace("k: 1", "k: 0"))
    assert main(["validate", str(kb / "run.yaml")]) == 2
    err = capsys.readouterr().err
    assert "k must be at least 1" in err and "rag.yaml:4" in err
    (kb / "rag.yaml").write_text(RAG)
    (kb / "task.yaml").write_text(TASK.split("knowledge:")[0])
    assert main(["validate", str(kb / "run.yaml")]) == 2
    assert "needs a knowledge collection" in capsys.readouterr().err
    (kb / "task.yaml").write_text(TASK.replace("collection: kb", "collection: nowhere"))
    assert main(["validate", str(kb / "run.yaml")]) == 2
    err = capsys.readouterr().err
    assert "knowledge collection not found" in err and "task.yaml:12" in err
    (kb / "task.yaml").write_text(TASK.replace("gold_column: gold", "gold_column: golden"))
    assert main(["validate", str(kb / "run.yaml")]) == 2
    assert "gold_column 'golden' is in no data row" in capsys.readouterr().err
    (kb / "rag.yaml").write_text(RAG + "adapter: x.gguf\n")
    assert main(["validate", str(kb / "rag.yaml")]) == 2


def test_empty_collection_fails_the_run_with_exit_2(kb: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    for f in (kb / "kb").iterdir():
        f.write_bytes(b"\x00\x01")  # binary: skipped, leaving nothing
    code = main(["run", str(kb / "run.yaml"), "--store", str(tmp_path / "s"),
                 "--reports", str(tmp_path / "r")])
    assert code == 2
    assert "has no passage with text" in capsys.readouterr().err


def test_lmeval_export_refuses_a_rag_variant(kb: Path, tmp_path: Path) -> None:
    from harness.errors import UsageError
    from harness.lmeval import export_lmeval
    from harness.tasks import load_task
    from harness.variants.prompt import load_variant

    with pytest.raises(UsageError, match="is a rag variant"):
        export_lmeval(load_task(kb / "task.yaml"), tmp_path / "lm",
                      load_variant(kb / "rag.yaml"))


def test_task_digest_covers_the_collection(kb: Path) -> None:
    from harness.tasks import load_task

    before = load_task(kb / "task.yaml").digest
    assert load_task(kb / "task.yaml").digest == before
    (kb / "kb" / "zircon.md").write_text("Requests about zircon now go elsewhere.\nQueue: BETA.\n")
    assert load_task(kb / "task.yaml").digest != before


def test_queries_that_retrieve_nothing_are_counted_and_said(
        kb: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Issue 18 case 5a: 4 test queries; 2 share no term with the collection
    # ("hello" after stop words, "bonjour"), so BM25 retrieves nothing for them.
    rows = [{"id": "t1", "text": "Who handles zircon?", "label": "ALPHA", "gold": "zircon.md"},
            {"id": "t2", "text": "Hello there", "label": "ALPHA", "gold": "zircon.md"},
            {"id": "t3", "text": "Where do quartz requests go?", "label": "BETA",
             "gold": "quartz.md"},
            {"id": "t4", "text": "Bonjour", "label": "BETA", "gold": "quartz.md"}]
    write_jsonl(kb / "data" / "test.jsonl", rows)
    reports = tmp_path / "reports"
    with caplog.at_level("WARNING", logger="harness.rag.knowledge"):
        main(["run", str(kb / "run.yaml"), "--store", str(tmp_path / "s"),
              "--reports", str(reports)])
    # the run saw 8 dev queries (all on topic) and these 4: 2 of 12 retrieved nothing
    assert "kb/rag: 2 of 12 queries retrieved no passage" in caplog.text
    run_dir = next(reports.iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    rag = {v["name"]: v for v in results["tasks"][0]["variants"]}["rag"]["retrieval"]
    assert (rag["n_queries"], rag["no_passage"]) == (4, 2)
    assert rag["recall_at_k"] == 0.5  # (1 + 0 + 1 + 0) / 4: the two empty ones found nothing
    md = (run_dir / "report.md").read_text()
    assert "| 2 of 4 |" in md
    assert "rag: 2 of 4 test queries retrieved no passage" in md
