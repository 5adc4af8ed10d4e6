"""YAML with line numbers, and pydantic errors mapped to ``file:line``."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UsageError
from harness.yamlio import load_yaml, validate

DOC = """\
name: demo
inner:
  count: 3
  flag: true
items:
  - first
  - second: 2
"""


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int
    flag: bool = False


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z]+$")
    inner: Inner
    items: list[str | dict[str, int]] = []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.yaml"
    path.write_text(text)
    return path


def test_lines_of_keys_and_items(tmp_path):
    doc = load_yaml(_write(tmp_path, DOC))
    assert doc.data == {"name": "demo", "inner": {"count": 3, "flag": True},
                        "items": ["first", {"second": 2}]}
    assert doc.lines[("name",)] == 1
    assert doc.lines[("inner", "flag")] == 4
    assert doc.lines[("items", 1)] == 7
    assert doc.lines[("items", 1, "second")] == 7
    assert doc.line_of(("inner", "count", "nope")) == 3
    assert doc.line_of(("missing",)) == 1


def test_validate_returns_the_model(tmp_path):
    model = validate(Doc, load_yaml(_write(tmp_path, DOC)))
    assert model.inner.count == 3 and model.items == ["first", {"second": 2}]


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("name: demo\n", "", 1, "missing required key 'name'"),
    ("  count: 3\n", "", 2, "missing required key 'inner.count'"),
    ("  flag: true\n", "  flag: true\n  flg: false\n", 5, "unknown key 'inner.flg'"),
    ("  count: 3\n", "  count: lots\n", 3, "inner.count: Input should be a valid integer"),
    ("name: demo", "name: Demo", 1, "name: String should match pattern"),
    ("  - second: 2\n", "  - second: two\n", 7, "items.1"),
])
def test_validation_errors_are_located(tmp_path, old, new, line, message):
    assert DOC.count(old) == 1
    path = _write(tmp_path, DOC.replace(old, new))
    with pytest.raises(UsageError) as err:
        validate(Doc, load_yaml(path))
    assert (err.value.path, err.value.line) == (str(path), line)
    assert err.value.message.startswith(message), err.value.message


@pytest.mark.parametrize(("text", "line", "message"), [
    ("a: 1\nb: [1, 2\nc: 3\n", 3, "malformed YAML: expected ',' or ']'"),
    ("a: 1\nb: c: d\n", 2, "malformed YAML: mapping values are not allowed here"),
    ("a: 1\nb:\n  c: 1\n d: 2\n", 4, "malformed YAML"),
    ("", 1, "file is empty"),
    ("# only a comment\n", 1, "file is empty"),
    ("- a\n- b\n", 1, "expected a mapping at the top level"),
    ("a: 1\nb: 2\na: 3\n", 3, "duplicate key 'a'"),
    ("a: 1\n? [x, y]\n: 2\n", 2, "mapping keys must be plain scalars"),
])
def test_bad_yaml_is_located(tmp_path, text, line, message):
    path = _write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        load_yaml(path)
    assert (err.value.path, err.value.line) == (str(path), line)
    assert err.value.message.startswith(message), err.value.message


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(UsageError) as err:
        load_yaml(tmp_path / "nope.yaml")
    assert err.value.one_line() == f"{tmp_path / 'nope.yaml'}: file not found"
    (tmp_path / "bin.yaml").write_bytes(b"a: 1\nb: \xff\xfe\n")
    with pytest.raises(UsageError) as err:
        load_yaml(tmp_path / "bin.yaml")
    # 0xff is never UTF-8; it is on line 2.
    assert err.value.one_line() == (f"{tmp_path / 'bin.yaml'}:2: not UTF-8 (byte 0xff); "
                                    "save it as UTF-8")
    with pytest.raises(UsageError, match="is a directory, not a file"):
        load_yaml(tmp_path)
