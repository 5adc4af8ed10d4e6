"""Knowledge collections: the passages a ``rag`` variant retrieves from.

A collection is either a folder of ``.txt``/``.md`` files (one passage per
file, its id the path relative to the folder) or one JSONL/CSV file of
passages with an id column and a text column. Files that are not UTF-8 text
(binary, another encoding) are skipped with one warning that lists them,
so a stray PDF in the folder does not stop a run; an empty or missing
collection is a :class:`~harness.errors.UsageError`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
TABLE_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class Passage:
    """One document of a collection, before chunking.

    Args:
        id: Stable id (file path relative to the folder, or the id column).
        text: The passage text.
    """

    id: str
    text: str


@dataclass(frozen=True)
class Collection:
    """A loaded collection.

    Args:
        path: Where it was read from.
        passages: The passages, in a stable order.
        skipped: Files (or rows) skipped as binary, undecodable or empty.
    """

    path: Path
    passages: tuple[Passage, ...]
    skipped: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """A digest of every passage id and text (the index cache key's base)."""
        h = hashlib.sha256()
        for p in self.passages:
            h.update(p.id.encode())
            h.update(b"\0")
            h.update(p.text.encode())
            h.update(b"\1")
        return h.hexdigest()


def _decode(data: bytes) -> str | None:
    """UTF-8 text, or None for binary (NUL bytes) or undecodable files."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _load_folder(root: Path) -> Collection:
    passages: list[Passage] = []
    skipped: list[str] = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).as_posix()
        if any(part.startswith(".") for part in f.relative_to(root).parts):
            continue
        if f.suffix.lower() not in TEXT_SUFFIXES:
            skipped.append(f"{rel} (not .txt/.md)")
            continue
        text = _decode(f.read_bytes())
        if text is None:
            skipped.append(f"{rel} (binary or not UTF-8)")
        elif text.strip():
            passages.append(Passage(rel, text.strip()))
        else:
            skipped.append(f"{rel} (empty)")
    return Collection(root, tuple(passages), tuple(skipped))


def _load_table(path: Path, id_column: str, text_column: str) -> Collection:
    text = _decode(path.read_bytes())
    if text is None:
        raise UsageError("the collection file is binary or not UTF-8", path)
    rows: list[tuple[int, dict[str, object]]] = []
    if path.suffix.lower() == ".jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UsageError(f"invalid JSON: {exc.msg}", path, n) from None
            if not isinstance(row, dict):
                raise UsageError("each line must be a JSON object", path, n)
            rows.append((n, row))
    else:
        reader = csv.DictReader(text.splitlines(keepends=True))
        for row in reader:
            rows.append((reader.line_num, dict(row)))
    passages: list[Passage] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for n, row in rows:
        for col in (id_column, text_column):
            if col not in row:
                raise UsageError(f"passage has no column {col!r}", path, n,
                                 hint=f"columns: {', '.join(map(str, row))}; set "
                                 "knowledge.id_column / knowledge.text_column")
        pid, body = str(row[id_column]).strip(), str(row[text_column] or "").strip()
        if not pid:
            raise UsageError(f"empty passage id in column {id_column!r}", path, n)
        if pid in seen:
            raise UsageError(f"duplicate passage id {pid!r} (first on line {seen[pid]})",
                             path, n)
        seen[pid] = n
        if body:
            passages.append(Passage(pid, body))
        else:
            skipped.append(f"line {n} (empty text)")
    return Collection(path, tuple(passages), tuple(skipped))


def load_collection(path: str | Path, id_column: str = "id",
                    text_column: str = "text") -> Collection:
    """Load a folder of text files or a JSONL/CSV file of passages.

    Args:
        path: The folder or file.
        id_column: The id column of a JSONL/CSV collection.
        text_column: The text column of a JSONL/CSV collection.

    Returns:
        The collection; skipped files are listed in one logged warning too.

    Raises:
        UsageError: Missing path, unsupported file type, bad rows, or no
            passage with text at all.
    """
    p = Path(path)
    if not p.exists():
        raise UsageError("knowledge collection not found", p,
                         hint="a folder of .txt/.md files or a .jsonl/.csv of passages")
    if p.is_dir():
        coll = _load_folder(p)
    elif p.suffix.lower() in TABLE_SUFFIXES:
        coll = _load_table(p, id_column, text_column)
    else:
        raise UsageError(f"unsupported collection file type {p.suffix!r}", p,
                         hint="a folder of .txt/.md files or a .jsonl/.csv of passages")
    if coll.skipped:
        log.warning("knowledge %s: skipped %d: %s", p, len(coll.skipped),
                    "; ".join(coll.skipped))
    if not coll.passages:
        raise UsageError("the knowledge collection has no passage with text", p,
                         hint="add .txt/.md files, or rows with an id and a text")
    return coll
