"""The generic registry: unique names, helpful misses, lazy entries, freezing."""

from __future__ import annotations

import json

import pytest

from harness.backends.base import BACKENDS, parse_spec
from harness.errors import UsageError
from harness.registry import Registry


def test_add_get_names_and_contains():
    reg: Registry[int] = Registry("number")
    reg.add("two", 2)
    reg.add("one", 1)
    assert reg.get("two") == 2
    assert reg.names() == ["one", "two"]
    assert list(reg) == ["one", "two"]
    assert "one" in reg and "three" not in reg


def test_register_decorator_returns_the_object():
    reg: Registry[object] = Registry("thing")

    @reg.register("fn")
    def fn() -> int:
        return 7

    assert fn() == 7
    assert reg.get("fn") is fn


def test_duplicate_name_raises():
    reg: Registry[int] = Registry("scorer")
    reg.add("acc", 1)
    with pytest.raises(ValueError, match="scorer 'acc' is already registered"):
        reg.add("acc", 2)
    assert reg.get("acc") == 1


def test_unknown_name_lists_valid_names_and_suggests():
    reg: Registry[int] = Registry("scorer")
    for name in ("label_accuracy", "exact_match", "json_schema"):
        reg.add(name, 0)
    with pytest.raises(UsageError) as err:
        reg.get("label_acuracy")
    assert err.value.message == "unknown scorer 'label_acuracy'"
    assert err.value.hint == ("did you mean 'label_accuracy'? "
                              "valid: exact_match, json_schema, label_accuracy")
    with pytest.raises(UsageError) as err:
        reg.get("zzz")
    assert err.value.hint == "valid: exact_match, json_schema, label_accuracy"


def test_lazy_entry_is_imported_on_first_get():
    reg: Registry[object] = Registry("codec")
    reg.add("json", "json:dumps")
    assert reg.get("json") is json.dumps
    assert reg.get("json") is json.dumps


def test_freeze_refuses_additions():
    reg: Registry[int] = Registry("backend")
    reg.add("a", 1)
    reg.freeze()
    with pytest.raises(RuntimeError, match="frozen"):
        reg.add("b", 2)
    assert reg.names() == ["a"]


def test_backend_registry_and_spec_parsing():
    assert {"embedded", "fake"} <= set(BACKENDS.names())
    assert str(parse_spec("fake:keyword")) == "fake:keyword"
    assert parse_spec("embedded").model == ""
    spec = parse_spec("fake:flaky", adapter="a.gguf")
    assert (spec.backend, spec.model, spec.adapter, str(spec)) == (
        "fake", "flaky", "a.gguf", "fake:flaky+a.gguf")
    with pytest.raises(UsageError, match="unknown backend 'olama'") as err:
        parse_spec("olama:x")
    assert err.value.hint is not None and "valid: embedded, fake" in err.value.hint
    with pytest.raises(UsageError, match="needs a model after 'fake:'"):
        parse_spec("fake")
