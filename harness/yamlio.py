"""YAML loading that keeps line numbers, and pydantic validation mapped to them.

Every validation error becomes a :class:`UsageError` pointing at
``file:line`` of the offending key, so a typo never runs and never shows a
traceback.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import UsageError
from harness.userfiles import read_text

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


class YamlDoc:
    """A parsed YAML document plus the line of every key and item in it.

    Mapping keys are the text the user wrote (``yes:`` is the key ``"yes"``,
    never ``"True"``); scalar values are typed as YAML says, and the text
    the user wrote for each is kept too (:meth:`text_of`).

    Args:
        path: The file it came from.
        data: The plain Python value.
        lines: 1-based line for each location (tuple of keys/indices).
        texts: The source text of each scalar value, by location.
    """

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int],
                 texts: dict[Loc, str] | None = None) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.texts = texts or {}

    def text_of(self, loc: Loc) -> str | None:
        """The text the user wrote for the scalar at ``loc`` (``yes``, not ``True``)."""
        return self.texts.get(loc)

    def line_of(self, loc: Loc) -> int | None:
        """Return the line of ``loc`` or of its nearest ancestor that has one."""
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in self.lines:
                return self.lines[loc[:cut]]
        return None

    def error(self, message: str, loc: Loc = (), hint: str | None = None) -> UsageError:
        """Build a :class:`UsageError` located at ``loc`` in this file."""
        return UsageError(message, path=self.path, line=self.line_of(loc), hint=hint)


def _build(node: yaml.Node, loc: Loc, doc: YamlDoc) -> Any:
    doc.lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node))
            if not isinstance(key, str | int | float | bool) or not isinstance(
                    key_node, yaml.ScalarNode):
                raise UsageError("mapping keys must be plain scalars", doc.path,
                                 key_node.start_mark.line + 1)
            skey = str(key_node.value)  # as written: `yes:` is "yes", `1.50:` is "1.50"
            if skey in out:
                raise UsageError(f"duplicate key {skey!r}", doc.path,
                                 key_node.start_mark.line + 1)
            doc.lines[(*loc, skey)] = key_node.start_mark.line + 1
            out[skey] = _build(value_node, (*loc, skey), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*loc, i), doc) for i, item in enumerate(node.value)]
    if isinstance(node, yaml.ScalarNode):
        doc.texts[loc] = str(node.value)
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: str | Path) -> YamlDoc:
    """Parse ``path`` as YAML, keeping the line of every key.

    The file is read by :func:`harness.userfiles.read_text` (UTF-8, byte-order
    mark dropped, line ends normalised).

    Raises:
        UsageError: The file is missing, unreadable, not UTF-8, empty or not
            valid YAML.
    """
    p = Path(path)
    text = read_text(p)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise UsageError(f"malformed YAML: {exc.problem or exc.context}", p, line) from None
    except yaml.YAMLError as exc:
        raise UsageError(f"malformed YAML: {exc}", p) from None
    if node is None:
        raise UsageError("file is empty", p, 1)
    doc = YamlDoc(p, None, {})
    doc.data = _build(node, (), doc)
    if not isinstance(doc.data, dict):
        raise UsageError("expected a mapping at the top level", p, 1)
    return doc


def _describe(kind: str, loc: Loc, msg: str) -> str:
    where = ".".join(str(x) for x in loc)
    if kind == "missing":
        return f"missing required key {where!r}"
    if kind == "extra_forbidden":
        return f"unknown key {where!r}"
    msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _existing(data: Any, loc: Loc) -> Loc:
    """The longest prefix of ``loc`` that exists in ``data`` (for its line number)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            break
        out.append(part)
    return tuple(out)


def validate(model: type[M], doc: YamlDoc, context: dict[str, Any] | None = None) -> M:
    """Validate ``doc`` against a pydantic ``model``, mapping errors to lines.

    Raises:
        UsageError: The first validation error, located at its key's line.
    """
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc: Loc = tuple(x for x in err["loc"] if isinstance(x, str | int))
        hint = _did_you_mean(model, loc) if err["type"] == "extra_forbidden" else None
        raise doc.error(_describe(err["type"], loc, str(err["msg"])),
                        _existing(doc.data, loc), hint=hint) from None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``X``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _did_you_mean(model: type[BaseModel], loc: Loc) -> str | None:
    """The valid keys next to an unknown key at ``loc``, closest first."""
    cls: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if cls is not None else None
        cls = _model_in(field.annotation) if field is not None else None
        if cls is None:
            return None
    if cls is None or not loc:
        return None
    valid = list(cls.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
    return (f"did you mean {close[0]!r}? " if close else "") + f"valid: {', '.join(valid)}"
