"""A format task's JSON Schema, loaded with every ``$ref`` resolved before anything runs.

A schema is checked against the draft 2020-12 meta-schema, then walked for
every ``$ref`` in it; each is resolved through a ``referencing`` registry
(the library jsonschema itself resolves with). Relative references resolve
from the schema file's folder (an inline schema's: the task file's): a
reference to ``address.json`` or ``defs/address.json#/$defs/Street`` loads
that file through :mod:`harness.userfiles`, checks it, and walks it in
turn; a reference to an ``$id`` resolves to the sibling ``.json`` file that
declares it. A reference that does not resolve (a ``$defs`` entry that is
not there, a file that is not there, a URL, since tunegate never fetches)
refuses the task at load with the file and line of the ``$ref``. The
validator built here carries the registry, so scoring never meets an
unresolvable reference.

Sources: JSON Schema 2020-12 Core, section 8.2 (base URI, ``$id``) and
8.2.3 (``$ref``); RFC 3986 section 5 (resolving a relative reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.request import url2pathname

from harness.errors import UsageError
from harness.userfiles import read_json, read_text

_NAMED = frozenset({"properties", "patternProperties", "$defs", "definitions",
                    "dependentSchemas"})
_DATA = frozenset({"enum", "const", "examples", "default"})


@dataclass(frozen=True)
class LoadedSchema:
    """A checked schema with every reference resolved.

    Attributes:
        schema: The schema as the user wrote it (templates see this one).
        validator: A draft 2020-12 validator whose registry holds every
            referenced file, so validating never needs to resolve anything.
        files: The referenced schema files read besides the schema itself
            (for the task digest).
    """

    schema: dict[str, Any]
    validator: Any
    files: tuple[Path, ...]


def refs_in(node: Any, base: str) -> list[tuple[str, str]]:
    """Every ``$ref`` in a schema with the base URI it resolves against.

    Keys under ``properties``/``$defs`` (names, not keywords) and values of
    ``enum``/``const``/``examples``/``default`` (data, not schemas) are not
    taken for references; an ``$id`` on the way changes the base.

    >>> refs_in({"properties": {"$ref": {"$ref": "#/$defs/a"}}, "enum": [{"$ref": "x"}]},
    ...         "file:///s.json")
    [('file:///s.json', '#/$defs/a')]
    """
    out: list[tuple[str, str]] = []
    _walk(node, base, out, named=False)
    return out


def _walk(node: Any, base: str, out: list[tuple[str, str]], named: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, base, out, named=False)
        return
    if not isinstance(node, dict):
        return
    if named:
        for value in node.values():
            _walk(value, base, out, named=False)
        return
    if isinstance(node.get("$id"), str):
        base = urljoin(base, node["$id"])
    if isinstance(node.get("$ref"), str):
        out.append((base, node["$ref"]))
    for key, value in node.items():
        if key not in _DATA:
            _walk(value, base, out, named=key in _NAMED)


def _line_of_ref(path: Path, ref: str) -> int | None:
    """The line of ``"$ref": "<ref>"`` in a schema file, when it can be found."""
    try:
        text = read_text(path)
    except UsageError:
        return None
    at = text.find(f'"{ref}"')
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def _check(schema: Any, path: Path) -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict):
        raise UsageError("a JSON Schema must be an object", path, 1)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(root)"
        raise UsageError(f"invalid JSON Schema at {where}: {exc.message}", path,
                         hint="the schema must be valid draft 2020-12") from None
    return schema


def _resource(contents: dict[str, Any]) -> Any:
    """A ``referencing`` resource (draft 2020-12 unless its ``$schema`` says otherwise)."""
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012

    return Resource.from_contents(contents, default_specification=DRAFT202012)


class _Resolver:
    """Resolves the references of one schema, loading the files they name."""

    def __init__(self, schema: dict[str, Any], uri: str, where: Path, line: int | None
                 ) -> None:
        from jsonschema_specifications import REGISTRY

        self.registry = REGISTRY.with_resource(uri, _resource(schema)).crawl()
        self.paths: dict[str, Path] = {uri: where}
        self.inline_line = {uri: line} if line is not None else {}
        self.files: list[Path] = []

    def resolve_all(self, schema: dict[str, Any], uri: str) -> None:
        from referencing.exceptions import Unresolvable

        todo = [(uri, schema)]
        while todo:
            doc_uri, contents = todo.pop()
            for base, ref in refs_in(contents, doc_uri):
                target = urldefrag(urljoin(base, ref)).url
                if target and target not in self.registry:
                    todo.append(self._load(target, ref, doc_uri))
                try:
                    self.registry.resolver(base).lookup(ref)
                except Unresolvable:
                    raise self._error(ref, doc_uri, "") from None

    def _error(self, ref: str, doc_uri: str, why: str) -> UsageError:
        path = self.paths[doc_uri]
        line = self.inline_line.get(doc_uri) or _line_of_ref(path, ref)
        return UsageError(f"$ref {ref!r} cannot be resolved{why}", path, line,
                          hint=None if why else "a reference resolves within the schema "
                          "('#/$defs/Name') or to a .json file relative to the schema's folder")

    def _load(self, target: str, ref: str, doc_uri: str) -> tuple[str, dict[str, Any]]:
        """Load the schema file ``target`` names into the registry; return it to walk."""
        if urlparse(target).scheme != "file":
            found = self._by_id(target, self.paths[doc_uri].parent)
            if found is None:
                raise self._error(ref, doc_uri, " (tunegate does not fetch schemas; save it "
                                  "as a .json file next to the schema)")
            path = found
        else:
            path = Path(url2pathname(urlparse(target).path))
            if not path.is_file():
                raise self._error(ref, doc_uri, f" (no schema file {path})")
        contents = _check(read_json(path, "schema"), path)
        self.registry = self.registry.with_resource(target, _resource(contents)).crawl()
        self.paths[target] = path
        self.files.append(path)
        return target, contents

    def _by_id(self, target: str, folder: Path) -> Path | None:
        """The ``.json`` file in ``folder`` whose ``$id`` is ``target``, if any."""
        for candidate in sorted(folder.glob("*.json")):
            try:
                contents = read_json(candidate, "schema")
            except UsageError:
                continue
            if isinstance(contents, dict) and contents.get("$id") == target:
                return candidate
        return None


def load_schema(schema: Any, uri: str, where: Path, line: int | None = None
                ) -> LoadedSchema:
    """Check ``schema`` and resolve every reference in it.

    Args:
        schema: The parsed schema.
        uri: Its base URI: the schema file's (``Path.as_uri()``), or the task
            file's for an inline schema.
        where: The file to name in messages.
        line: The line to name for an inline schema (``None``: a file of its own).

    Raises:
        UsageError: The schema (or a file it references) is not a valid schema,
            or a reference cannot be resolved.
    """
    from jsonschema import Draft202012Validator

    _check(schema, where)
    base = urljoin(uri, schema["$id"]) if isinstance(schema.get("$id"), str) else uri
    resolver = _Resolver(schema, uri, where, line)
    resolver.resolve_all(schema, uri)
    rooted = {**schema, "$id": base}  # the validator resolves relative refs from here
    validator = Draft202012Validator(rooted, registry=resolver.registry)
    return LoadedSchema(schema, validator, tuple(resolver.files))
