"""Rows of a user's data file: JSON Lines, a JSON array of objects, CSV or TSV.

One reader serves task data, tone style examples and knowledge collections,
so the three accept the same files. The text comes from
:func:`harness.userfiles.read_text` (UTF-8, byte-order mark dropped, CRLF
as LF). Each row comes with the 1-based line it starts on.

CSV follows RFC 4180: the first record is the header, a quoted field may
hold commas and line breaks. A record with more fields than the header (an
unquoted comma, usually) or fewer is refused at its line, as is a header
that names a column twice; blank lines are skipped.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import UsageError
from harness.userfiles import read_text

DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".tsv")
Row = tuple[int, dict[str, Any]]


def read_rows(path: Path, what: str = "data file") -> Iterator[Row]:
    """The rows of a data file, each with the line it starts on.

    Raises:
        UsageError: Unsupported suffix, unreadable file, or a malformed row
            (invalid JSON, a non-object, a CSV row of the wrong width),
            located at its line.
    """
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise UsageError(f"unsupported data format {suffix!r}", path,
                         hint="use .jsonl, .json, .csv or .tsv")
    text = read_text(path, what)
    if suffix == ".json" and text.lstrip().startswith("{"):
        suffix = ".jsonl"  # a .json file of one object per line is JSON Lines
    if suffix in (".jsonl", ".ndjson"):
        return _jsonl_rows(text, path)
    if suffix == ".json":
        return _json_array_rows(text, path)
    return _csv_rows(text, path, "\t" if suffix == ".tsv" else ",")


def scalar_text(value: Any) -> str:
    """A JSON scalar as the text the user wrote: ``true``, not Python's ``True``.

    >>> scalar_text(True), scalar_text(1.5), scalar_text(None), scalar_text("U.S.")
    ('true', '1.5', '', 'U.S.')
    """
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return str(value)


def _jsonl_rows(text: str, path: Path) -> Iterator[Row]:
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise UsageError(f"invalid JSON at column {exc.colno}: "
                             f"{exc.msg.removesuffix(' at')}", path, lineno) from None
        if not isinstance(row, dict):
            raise UsageError("each JSONL line must be an object", path, lineno)
        yield lineno, row


def _json_array_rows(text: str, path: Path) -> Iterator[Row]:
    """Rows of a ``.json`` file holding one array of objects, each with its line."""
    dec = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text.startswith("[", i):
        raise UsageError("a .json data file must hold one array of objects (or one object "
                         "per line)", path, 1)
    i += 1
    while True:
        while i < len(text) and text[i] in " \t\n,":
            i += 1
        if i >= len(text) or text[i] == "]":
            return
        line = text.count("\n", 0, i) + 1
        try:
            row, i = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise UsageError(f"invalid JSON: {exc.msg}", path, exc.lineno) from None
        if not isinstance(row, dict):
            raise UsageError("each item of the array must be an object", path, line)
        yield line, row


def _csv_rows(text: str, path: Path, delimiter: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    sep = "tab" if delimiter == "\t" else "comma"
    header: list[str] | None = None
    try:
        for record in reader:
            # line_num is the record's last physical line; step back over quoted newlines.
            start = reader.line_num - sum(field.count("\n") for field in record)
            if not record or (len(record) == 1 and not record[0].strip() and header):
                continue
            if header is None:
                header = _header(record, path, start)
                continue
            if len(record) != len(header):
                more = len(record) > len(header)
                raise UsageError(
                    f"row has {len(record)} fields, the header {len(header)}" + (
                        f" (an unquoted {sep}?)" if more else
                        " (fewer fields than the header)"), path, start)
            yield start, dict(zip(header, record, strict=True))
    except csv.Error as exc:
        raise UsageError(f"malformed CSV: {exc}", path, reader.line_num) from None


def _header(record: list[str], path: Path, line: int) -> list[str]:
    seen: set[str] = set()
    for name in record:
        if name in seen:
            raise UsageError(f"column {name!r} appears twice in the header", path, line)
        seen.add(name)
    return record
