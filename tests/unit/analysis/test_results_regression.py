"""results.json is the same, number for number, before and after results became typed.

``fixtures/results_runs.json`` holds two stored runs made with the ``fake:keyword``
backend (``fixtures/make_results_fixture.py``): four task families with lora and
rag variants, prices, measured trainings, Holm levels, a diagnosis and verdicts;
and a toy task with a prompt search. ``fixtures/results_expected.json`` is what
the untyped ``build_results`` (dict in, dict out) wrote for them. The typed
``RunResults`` must serialise to the same keys and the same values, with one
documented addition: schema 2 writes ``examples_needed`` next to each verdict's
label (the count INCONCLUSIVE's text quotes; null otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.analysis.model import SCHEMA, RunResults
from harness.analysis.results import build_results
from harness.store import Record, RunRow

FIXTURES = Path(__file__).parent / "fixtures"
RUNS = json.loads((FIXTURES / "results_runs.json").read_text())
EXPECTED = json.loads((FIXTURES / "results_expected.json").read_text())


def _results(stored: dict[str, Any]) -> RunResults:
    return build_results(RunRow(**stored["run"]), [Record(**r) for r in stored["records"]],
                         {(t, v): rec for t, v, rec in stored["trainings"]},
                         {(t, m): rec for t, m, rec in stored["searches"]})


def _schema_1(written: dict[str, Any]) -> dict[str, Any]:
    """Schema 2's results.json without its one addition: what schema 1 wrote."""
    out = json.loads(json.dumps(written))
    assert out["schema"] == SCHEMA == 2
    out["schema"] = 1
    for verdict in [out["verdict"], *(t.get("verdict") for t in out["tasks"])]:
        if verdict is not None:
            verdict.pop("examples_needed")
    return out


@pytest.mark.parametrize("k", range(len(RUNS)), ids=["families", "search"])
def test_results_json_equals_the_untyped_codes_number_for_number(k: int) -> None:
    written = json.loads(_results(RUNS[k]).to_json())
    assert _schema_1(written) == EXPECTED[k]


@pytest.mark.parametrize("k", range(len(RUNS)), ids=["families", "search"])
def test_results_json_reads_back_through_the_model_unchanged(k: int) -> None:
    text = _results(RUNS[k]).to_json()
    assert RunResults.from_json(text).to_json() == text


def test_inconclusive_carries_its_count_as_a_field() -> None:
    # families: support_record, ops_acronyms and house_tone are INCONCLUSIVE with n=12 test
    # pairs and no power estimate reaching further: decide() asks for n_needed - n = 180 more
    # (the label text says "need ~180"); support_routing is USE RAG, which carries no count.
    res = _results(RUNS[0])
    counts = {t.task: (t.verdict.label.outcome.value, t.verdict.label.examples_needed)
              for t in res.tasks if t.verdict is not None}
    assert counts == {"support_record": ("INCONCLUSIVE", 180),
                      "ops_acronyms": ("INCONCLUSIVE", 180),
                      "house_tone": ("INCONCLUSIVE", 180),
                      "support_routing": ("USE RAG: knowledge gap", None)}
    assert res.verdict is not None and res.verdict.label.exit_code == 1  # one task fails
    written = json.loads(res.to_json())
    assert written["tasks"][0]["verdict"]["examples_needed"] == 180
    assert written["tasks"][0]["verdict"]["label"] == "INCONCLUSIVE: need ~180 more examples"


def test_results_are_immutable() -> None:
    res = _results(RUNS[1])
    with pytest.raises(ValueError, match="frozen"):
        res.tasks[0].variants[0].score = 1.0  # type: ignore[misc]


def test_a_newer_schema_is_refused_and_schema_1_still_reads() -> None:
    text = _results(RUNS[1]).to_json()
    newer = text.replace('"schema": 2', '"schema": 3', 1)
    with pytest.raises(ValueError, match="results.json schema 3 is newer than this tunegate's"):
        RunResults.from_json(newer)
    # EXPECTED[0] is what schema 1 wrote: no examples_needed; it reads with None.
    old = RunResults.model_validate(EXPECTED[0])
    assert old.schema_version == 1
    assert {t.verdict.label.examples_needed for t in old.tasks if t.verdict} == {None}
    assert {str(t.verdict.label) for t in old.tasks if t.verdict} >= {"USE RAG: knowledge gap"}
