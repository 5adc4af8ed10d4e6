r"""The one reader of user files: task and run YAML, data, glossaries, schemas, templates.

Every file a user writes is read here with the same rules, so a file that
one part of tunegate accepts is never rejected (or misread) by another:

- UTF-8, strictly. A byte that is not UTF-8 is refused with the line it is
  on and the byte (``not UTF-8 (byte 0xe9); save it as UTF-8``): a file
  saved as Windows-1252 or Latin-1 is never guessed at.
- A leading byte-order mark (spreadsheets write one) is dropped.
- Line ends are normalised to ``\n`` (CRLF and lone CR as LF), so line
  numbers and values do not depend on the editor.
- A NUL byte means a binary file, refused with its line.
- A missing file, a directory where a file belongs, or a file without read
  permission is a :class:`~harness.errors.UsageError`, never a traceback.

Encoding rules follow RFC 3629 (UTF-8) and RFC 8259 section 8.1 (JSON text
is UTF-8; a parser may ignore a leading byte-order mark).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import UsageError

BOM = "\ufeff"


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The raw bytes of a user file.

    Args:
        path: The file.
        what: What the file is, for messages (``"data file"``, ``"schema"``).

    Raises:
        UsageError: The file is missing, is a directory or cannot be read.
    """
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{what} not found", p) from None
    except IsADirectoryError:
        raise UsageError(f"{what} is a directory, not a file", p) from None
    except PermissionError:
        raise UsageError(f"{what} cannot be read: permission denied", p,
                         hint="check the file's permissions") from None
    except OSError as exc:
        raise UsageError(f"{what} cannot be read: {exc.strerror or exc}", p) from None


def decode_text(data: bytes, path: str | Path) -> str:
    r"""Decode a user file's bytes as the module says (BOM dropped, LF line ends).

    Returns:
        The text, every line ending in ``\n`` (a final line may lack it).

    Raises:
        UsageError: A byte that is not UTF-8, or a NUL byte; located at its line.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UsageError(f"not UTF-8 (byte 0x{data[exc.start]:02x}); save it as UTF-8",
                         path, line) from None
    nul = text.find("\0")
    if nul >= 0:
        raise UsageError("contains a NUL byte: a binary file, not text", path,
                         text.count("\n", 0, nul) + 1)
    return text.removeprefix(BOM).replace("\r\n", "\n").replace("\r", "\n")


def read_text(path: str | Path, what: str = "file") -> str:
    """A user file's text, read and decoded by the rules of this module.

    Raises:
        UsageError: Missing, unreadable, not UTF-8, or binary.
    """
    return decode_text(read_bytes(path, what), path)


def parse_json(text: str, path: str | Path, what: str = "file") -> Any:
    """Parse a whole user file's text as JSON.

    Raises:
        UsageError: Not valid JSON, at the line of the error.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc.msg} (column {exc.colno})", path,
                         exc.lineno) from None


def read_json(path: str | Path, what: str = "file") -> Any:
    """A user JSON file (a schema, say), read by the rules of this module.

    Raises:
        UsageError: Missing, unreadable, not UTF-8, binary, or not valid JSON.
    """
    return parse_json(read_text(path, what), path, what)
