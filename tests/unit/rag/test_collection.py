from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from harness.collection import load_collection
from harness.errors import UsageError


def test_folder_of_text_and_markdown(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha fact.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta fact.", encoding="utf-8")
    coll = load_collection(tmp_path)
    assert [p.id for p in coll.passages] == ["a.txt", "sub/b.md"]
    assert coll.passages[0].text == "Alpha fact."
    assert coll.skipped == ()


def test_binary_and_undecodable_files_are_skipped_with_one_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "good.txt").write_text("Good.", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "report.pdf").write_bytes(b"%PDF-1.4")
    with caplog.at_level(logging.WARNING):
        coll = load_collection(tmp_path)
    assert [p.id for p in coll.passages] == ["good.txt"]
    assert len(coll.skipped) == 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    for name in ("image.txt", "latin1.md", "report.pdf"):
        assert name in warnings[0]


def test_jsonl_and_csv_with_custom_columns(tmp_path: Path) -> None:
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"pid": "x1", "body": "One."}) + "\n\n"
                  + json.dumps({"pid": "x2", "body": "Two."}) + "\n", encoding="utf-8")
    coll = load_collection(jl, id_column="pid", text_column="body")
    assert [(p.id, p.text) for p in coll.passages] == [("x1", "One."), ("x2", "Two.")]
    cs = tmp_path / "p.csv"
    cs.write_text('id,text\n1,"First, with a comma."\n2,Second.\n', encoding="utf-8")
    assert [p.text for p in load_collection(cs).passages] == ["First, with a comma.",
                                                                "Second."]


def test_digest_changes_with_content(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    d1 = load_collection(tmp_path).digest
    assert load_collection(tmp_path).digest == d1
    (tmp_path / "a.txt").write_text("Alpha!", encoding="utf-8")
    assert load_collection(tmp_path).digest != d1


@pytest.mark.parametrize("make", ["missing", "empty_dir", "only_binary", "empty_csv"])
def test_empty_or_missing_collection_is_a_usage_error(tmp_path: Path, make: str) -> None:
    target = tmp_path / "coll"
    if make == "empty_dir":
        target.mkdir()
    elif make == "only_binary":
        target.mkdir()
        (target / "x.txt").write_bytes(b"\x00\x01\x02")
    elif make == "empty_csv":
        target = tmp_path / "coll.csv"
        target.write_text("id,text\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_collection(target)
    assert str(target) in err.value.one_line()


def test_bad_rows_name_the_line(tmp_path: Path) -> None:
    jl = tmp_path / "p.jsonl"
    jl.write_text('{"id": "a", "text": "x"}\n{"id": "b"}\n', encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_collection(jl)
    assert err.value.line == 2 and "'text'" in err.value.message
    jl.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', encoding="utf-8")
    with pytest.raises(UsageError, match="duplicate passage id"):
        load_collection(jl)
    jl.write_text('{"id": "a", "text": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_collection(jl)
    assert err.value.line == 2


def test_unsupported_file_type(tmp_path: Path) -> None:
    f = tmp_path / "notes.docx"
    f.write_bytes(b"PK")
    with pytest.raises(UsageError, match="unsupported"):
        load_collection(f)
