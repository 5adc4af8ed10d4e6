"""Issue 14 case 5: every user file is read by one reader with one set of rules.

A spreadsheet's CSV (byte-order mark, CRLF) loads; a row with an extra field,
a file in Windows-1252 and a file that is not there are one located line
each; rows without an id column get ids unique within the task.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.collection import load_collection
from harness.config import load_config
from harness.errors import UsageError
from harness.tasks import load_task
from harness.userfiles import decode_text, read_text
from harness.variants.prompt import load_variant

BOM = b"\xef\xbb\xbf"
CLASSIFY = """\
name: toy
family: classification
data:
  columns: {{id: id, input: text, target: label}}
  files: {{test: {file}}}
labels: [ALPHA, BETA]
"""


def _csv_task(tmp_path: Path, data: bytes, name: str = "test.csv") -> Path:
    (tmp_path / name).write_bytes(data)
    task = tmp_path / "task.yaml"
    task.write_text(CLASSIFY.format(file=name), encoding="utf-8")
    return task


def test_spreadsheet_csv_with_bom_and_crlf_loads(tmp_path: Path) -> None:
    # Today: "column 'id' missing (columns there: id, text, label)": the header's first
    # column was "\ufeffid". Right: two rows, the header's columns exactly as written.
    data = BOM + b"id,text,label\r\nt1,hello there,ALPHA\r\nt2,\"two\r\nlines\",BETA\r\n"
    rows = load_task(_csv_task(tmp_path, data)).split("test")
    assert [(e.id, e.input, e.target, e.line) for e in rows] == [
        ("t1", "hello there", "ALPHA", 2), ("t2", "two\nlines", "BETA", 3)]
    assert list(rows[0].fields) == ["id", "text", "label"]


def test_jsonl_with_bom_loads(tmp_path: Path) -> None:
    data = BOM + b'{"id": "j1", "text": "x", "label": "ALPHA"}\r\n'
    (ex,) = load_task(_csv_task(tmp_path, data, "test.jsonl")).split("test")
    assert (ex.id, ex.target, ex.line) == ("j1", "ALPHA", 1)


def test_row_with_one_field_more_than_the_header(tmp_path: Path) -> None:
    # `expand POD, please` has an unquoted comma: 4 fields under a 3-column header.
    # Today validate said ok and the target became " please".
    path = tmp_path / "test.csv"
    path.write_text("id,text,target\nt1,expand ETA,Estimated Time of Arrival\n"
                    "t2,expand POD, please,Proof of Delivery\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(
        "name: acr\nfamily: terminology\ndata:\n  columns: {id: id, input: text}\n"
        "  files: {test: test.csv}\n", encoding="utf-8")
    with pytest.raises(UsageError) as err:
        load_task(tmp_path / "t.yaml")
    assert err.value.one_line() == (f"{path}:3: row has 4 fields, the header 3 "
                                    "(an unquoted comma?)")


def test_windows_1252_csv_names_line_and_byte(tmp_path: Path) -> None:
    # "Ren\xe9" is "René" in Windows-1252; 0xE9 starts a 3-byte UTF-8 sequence that the
    # following "," (0x2C) cannot continue. The byte is on line 3 of the file.
    data = b"id,text,label\nt1,hello,ALPHA\nt2,Ren" + b"\xe9" + b",BETA\n"
    task = _csv_task(tmp_path, data)
    with pytest.raises(UsageError) as err:
        load_task(task)
    assert err.value.one_line() == (f"{tmp_path / 'test.csv'}:3: not UTF-8 (byte 0xe9); "
                                    "save it as UTF-8")


def test_generated_ids_are_unique_within_the_task(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    # Today both rows got the id "data-1" and the task was refused as a duplicate.
    for split, label in (("train", "ALPHA"), ("test", "BETA")):
        (tmp_path / split).mkdir()
        (tmp_path / split / "data.jsonl").write_text(
            json.dumps({"text": f"{split} row", "label": label}) + "\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(
        "name: gen\nfamily: classification\ndata:\n  columns: {input: text, target: label}\n"
        "  files: {train: train/data.jsonl, test: test/data.jsonl}\nlabels: [ALPHA, BETA]\n",
        encoding="utf-8")
    task = load_task(tmp_path / "t.yaml")
    assert [e.id for e in task.split("train")] == ["train/data.jsonl:1"]
    assert [e.id for e in task.split("test")] == ["test/data.jsonl:1"]
    assert task.generated_ids
    assert main(["validate", str(tmp_path / "t.yaml")]) == 0
    assert "no id column: ids generated as file:line" in capsys.readouterr().out


def test_one_file_named_for_two_splits_says_so(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"text": "x", "label": "ALPHA"}\n', encoding="utf-8")
    (tmp_path / "t.yaml").write_text(
        "name: gen\nfamily: classification\ndata:\n  columns: {input: text, target: label}\n"
        "  files: {train: d.jsonl, test: d.jsonl}\nlabels: [ALPHA, BETA]\n", encoding="utf-8")
    with pytest.raises(UsageError, match="the same file is named for two splits"):
        load_task(tmp_path / "t.yaml")


def test_header_naming_a_column_twice(tmp_path: Path) -> None:
    task = _csv_task(tmp_path, b"id,text,label,text\nt1,a,ALPHA,b\n")
    with pytest.raises(UsageError) as err:
        load_task(task)
    assert err.value.one_line() == (f"{tmp_path / 'test.csv'}:1: column 'text' appears twice "
                                    "in the header")


def test_a_directory_where_a_data_file_belongs(tmp_path: Path) -> None:
    (tmp_path / "test.csv").mkdir()
    (tmp_path / "task.yaml").write_text(CLASSIFY.format(file="test.csv"), encoding="utf-8")
    with pytest.raises(UsageError, match="data file is a directory, not a file"):
        load_task(tmp_path / "task.yaml")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files without read permission")
def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    path.chmod(0)
    with pytest.raises(UsageError, match="permission denied"):
        read_text(path)


# The kind: each kind of user file, loaded by its own loader, meets the same rules.
GLOSSARY_TASK = ("name: acr\nfamily: terminology\ndata:\n  columns: {id: id, input: text, "
                 "target: target}\n  files: {test: d.jsonl}\nglossary: glossary.yaml\n")
FORMAT_TASK = ("name: fmt\nfamily: format\ndata:\n  columns: {id: id, input: text, "
               "target: target}\n  files: {test: d.jsonl}\nschema: schema.json\n")
TONE_TASK = ("name: tone\nfamily: tone\ndata:\n  columns: {id: id, input: text, "
             "target: target}\n  files: {test: d.jsonl}\nstyle: {examples: styles.csv}\n")


def _write(tmp_path: Path, name: str, text: str, bad: bool) -> Path:
    """Write ``text`` with a BOM and CRLF line ends; ``bad``: a 0xE9 on its second line."""
    data = BOM + text.replace("\n", "\r\n").encode()
    if bad:
        first = data.index(b"\n") + 1
        data = data[:first] + b"\xe9" + data[first:]
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _kind(kind: str, tmp_path: Path, bad: bool) -> tuple[Path, object]:
    """Write one user file of ``kind`` (and what it needs); return it and its loader call."""
    (tmp_path / "d.jsonl").write_text(
        json.dumps({"id": "a", "text": "x", "target": '{"q": "A"}'}) + "\n", encoding="utf-8")
    if kind == "task":
        path = _write(tmp_path, "t.yaml", GLOSSARY_TASK.replace("glossary: glossary.yaml\n",
                                                               "mode: expansion\n"), bad)
        return path, lambda: load_task(path)
    if kind == "glossary":
        (tmp_path / "t.yaml").write_text(GLOSSARY_TASK, encoding="utf-8")
        path = _write(tmp_path, "glossary.yaml", "glossary:\n  - {acronym: ETA, expansion: "
                      "Estimated Time of Arrival}\n", bad)
        return path, lambda: load_task(tmp_path / "t.yaml")
    if kind == "schema":
        (tmp_path / "t.yaml").write_text(FORMAT_TASK, encoding="utf-8")
        path = _write(tmp_path, "schema.json", '{"type": "object",\n "properties": {}}\n', bad)
        return path, lambda: load_task(tmp_path / "t.yaml")
    if kind == "style examples":
        (tmp_path / "t.yaml").write_text(TONE_TASK, encoding="utf-8")
        rows = "".join(f"text {i},{'target' if i % 2 else 'source'}\n" for i in range(10))
        path = _write(tmp_path, "styles.csv", "text,label\n" + rows, bad)
        return path, lambda: load_task(tmp_path / "t.yaml")
    if kind == "template":
        (tmp_path / "v.yaml").write_text("name: v\ntemplate: v.j2\n", encoding="utf-8")
        path = _write(tmp_path, "v.j2", "Message:\n{{ input }}\nAnswer:", bad)
        return path, lambda: load_variant(tmp_path / "v.yaml")
    if kind == "variant":
        (tmp_path / "v.j2").write_text("{{ input }}", encoding="utf-8")
        path = _write(tmp_path, "v.yaml", "name: v\ntemplate: v.j2\n", bad)
        return path, lambda: load_variant(path)
    if kind == "run":
        (tmp_path / "v.j2").write_text("{{ input }}", encoding="utf-8")
        (tmp_path / "v.yaml").write_text("name: v\ntemplate: v.j2\n", encoding="utf-8")
        (tmp_path / "t.yaml").write_text(CLASSIFY.format(file="c.csv"), encoding="utf-8")
        (tmp_path / "c.csv").write_text("id,text,label\na,x,ALPHA\n", encoding="utf-8")
        path = _write(tmp_path, "run.yaml", "name: r\ntasks: [t.yaml]\nvariants: [v.yaml]\n"
                      "models: [fake:keyword]\n", bad)
        return path, lambda: load_config(path)
    assert kind == "knowledge table"
    path = _write(tmp_path, "kb.csv", "id,text\np1,Alpha fact.\n", bad)
    return path, lambda: load_collection(path)


KINDS = ["task", "glossary", "schema", "style examples", "template", "variant", "run",
         "knowledge table"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_user_file_reads_bom_and_crlf(kind: str, tmp_path: Path) -> None:
    _, load = _kind(kind, tmp_path, bad=False)
    load()  # type: ignore[operator]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_user_file_refuses_non_utf8_at_its_line(kind: str,
                                                              tmp_path: Path) -> None:
    path, load = _kind(kind, tmp_path, bad=True)
    with pytest.raises(UsageError) as err:
        load()  # type: ignore[operator]
    # The 0xE9 was put at the start of line 2.
    assert err.value.one_line() == f"{path}:2: not UTF-8 (byte 0xe9); save it as UTF-8"


def test_knowledge_folder_skips_a_non_utf8_file_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "good.md").write_bytes(BOM + b"Good.\r\n")
    (tmp_path / "cp1252.txt").write_bytes(b"caf\xe9\n")
    coll = load_collection(tmp_path)
    assert [(p.id, p.text) for p in coll.passages] == [("good.md", "Good.")]
    assert coll.skipped == ("cp1252.txt (not UTF-8 (byte 0xe9); save it as UTF-8 at line 1)",)


def test_decode_text_rules() -> None:
    assert decode_text(BOM + b"a\r\nb\rc\n", "f") == "a\nb\nc\n"
    with pytest.raises(UsageError) as err:
        decode_text(b"a\nb\x00", "f")
    assert (err.value.line, err.value.message) == (2, "contains a NUL byte: a binary file, "
                                                   "not text")


@given(st.text(alphabet=st.characters(blacklist_characters="\0\ufeff",
                                      blacklist_categories=("Cs",))))
def test_decode_text_keeps_every_character_but_line_ends(text: str) -> None:
    assert decode_text(text.encode(), "f") == text.replace("\r\n", "\n").replace("\r", "\n")


@given(st.text(alphabet="ab\n", max_size=40), st.integers(0, 40))
def test_a_bad_byte_is_reported_on_its_own_line(text: str, at: int) -> None:
    data = text.encode()
    at = min(at, len(data))
    data = data[:at] + b"\xff" + data[at:]
    with pytest.raises(UsageError) as err:
        decode_text(data, "f")
    assert err.value.line == text[:at].count("\n") + 1
