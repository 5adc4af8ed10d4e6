"""Knowledge collections: the passages a ``rag`` variant retrieves from.

A collection is either a folder of ``.txt``/``.md`` files (one passage per
file, its id the path relative to the folder) or one JSONL/CSV file of
passages with an id column and a text column. Every file is read by
:mod:`harness.userfiles` (UTF-8, byte-order mark dropped, CRLF as LF) and a
table by :mod:`harness.datafiles`, as task data is. In a folder, files that
are not UTF-8 text (binary, another encoding) or cannot be read are skipped
with one warning that lists them and why, so a stray PDF in the folder does
not stop a run; a table file that is not UTF-8, and an empty or missing
collection, are a :class:`~harness.errors.UsageError`.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections.abc import Collection as IdSet
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from harness.datafiles import read_rows, scalar_text
from harness.errors import UsageError
from harness.taskspec import KnowledgeSpec
from harness.userfiles import read_text

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
        try:
            text = read_text(f, "knowledge file")
        except UsageError as exc:
            skipped.append(f"{rel} ({exc.message}{f' at line {exc.line}' if exc.line else ''})")
            continue
        if text.strip():
            passages.append(Passage(rel, text.strip()))
        else:
            skipped.append(f"{rel} (empty)")
    return Collection(root, tuple(passages), tuple(skipped))


def _load_table(path: Path, id_column: str, text_column: str) -> Collection:
    rows = list(read_rows(path, "knowledge collection"))
    passages: list[Passage] = []
    skipped: list[str] = []
    seen: dict[str, int] = {}
    for n, row in rows:
        for col in (id_column, text_column):
            if col not in row:
                raise UsageError(f"passage has no column {col!r}", path, n,
                                 hint=f"columns: {', '.join(map(str, row))}; set "
                                 "knowledge.id_column / knowledge.text_column")
        pid, body = scalar_text(row[id_column]).strip(), scalar_text(row[text_column]).strip()
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


class DataRow(Protocol):
    """What :func:`check_gold_ids` reads of an example: its fields and where it is."""

    @property
    def fields(self) -> Mapping[str, Any]: ...  # noqa: D102
    @property
    def source(self) -> str: ...  # noqa: D102
    @property
    def line(self) -> int: ...  # noqa: D102


def _closest(pid: str, ids: IdSet[str]) -> str | None:
    """The passage id ``pid`` most likely meant: same but for case or file suffix, or close."""
    folded = pid.casefold()
    for cand in sorted(ids):
        if cand.casefold() == folded or PurePosixPath(cand).stem.casefold() == folded or (
                PurePosixPath(folded).stem == cand.casefold()):
            return cand
    close = difflib.get_close_matches(pid, list(ids), n=1, cutoff=0.6)
    return close[0] if close else None


def check_gold_ids(knowledge: KnowledgeSpec, task_path: Path, rows: Iterable[DataRow]) -> None:
    """Every gold passage id in the data must name a passage of the collection.

    Without this a misspelt id (``P1`` for ``p1``, ``p2.txt`` for ``p2``)
    makes recall@k and MRR 0.0 while the right passage was retrieved.

    Raises:
        UsageError: At the first data row naming an unknown id (its file and
            line), with the closest id as a hint; or a bad collection.
    """
    if knowledge.gold_column is None:
        return
    coll = load_collection((task_path.parent / knowledge.collection).resolve(),
                           knowledge.id_column, knowledge.text_column)
    ids = {p.id for p in coll.passages}
    for row in rows:
        for pid in sorted(gold_ids(row.fields, knowledge.gold_column) - ids):
            near = _closest(pid, ids)
            hint = (f"did you mean {near}?" if near else
                    f"{len(ids)} passages, e.g. {', '.join(sorted(ids)[:3])}")
            raise UsageError(f"gold passage id {pid!r} is not in the collection", row.source,
                             row.line, hint=hint)


def gold_ids(fields: Mapping[str, Any], column: str | None) -> set[str]:
    """An example's gold passage ids from its data row (empty when none)."""
    if column is None:
        return set()
    value = fields.get(column)
    if isinstance(value, list):
        return {str(v).strip() for v in value if str(v).strip()}
    return {p.strip() for p in str(value or "").split(";") if p.strip()}
