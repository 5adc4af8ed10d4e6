"""UsageError: the one user-error type and how the CLI prints it."""

from __future__ import annotations

from pathlib import Path

from harness.errors import UsageError


def test_one_line_with_path_line_and_hint():
    err = UsageError("bad key", Path("a/b.yaml"), 3, hint="valid: x, y")
    assert err.location() == "a/b.yaml:3"
    assert err.one_line() == "a/b.yaml:3: bad key (valid: x, y)"
    assert str(err) == err.one_line()
    assert (err.message, err.path, err.line, err.hint) == ("bad key", "a/b.yaml", 3, "valid: x, y")


def test_one_line_without_line_or_path():
    assert UsageError("no line", "f.yaml").one_line() == "f.yaml: no line"
    assert UsageError("bare").one_line() == "bare"
    assert UsageError("bare").location() == ""
    assert UsageError("hinted", hint="do this").one_line() == "hinted (do this)"
