"""Diff highlighting of format outputs in the side-by-side view."""

from __future__ import annotations

from harness.report.sidebyside import Cell, _cell_html, field_diff
from harness.taskspec import Normalize


def test_field_diff_marks_right_wrong_extra_and_missing() -> None:
    gold = '{"order": "A1", "issue": {"kind": "late", "days": 3}, "tags": ["x"]}'
    pred = {"order": "A1", "issue": {"kind": "lost", "days": 3}, "note": "hi"}
    rows = {k: (v, s) for k, v, s in field_diff(pred, gold)}
    # The scorers' fields, keyed by JSON Pointer; a wrong value shows the reference's.
    assert rows == {"/order": ('"A1"', "ok"), "/issue/kind": ('"lost" (reference "late")', "bad"),
                    "/issue/days": ("3", "ok"), "/note": ('"hi"', "extra"),
                    "/tags/0": ('"x"', "miss")}


def test_field_diff_needs_two_json_objects() -> None:
    assert field_diff("not json", '{"a": 1}') == ()
    assert field_diff({"a": 1}, "PLAIN_LABEL") == ()
    assert field_diff('["a"]', '["a"]') == ()
    assert field_diff('{"a": 1}', '{"a": 1}') == (("/a", "1", "ok"),)
    assert field_diff('x {"a": 1}', '{"a": 1}') == ()  # a stored answer is read whole


def test_field_diff_is_the_scorers_comparison() -> None:
    # Issue 14 case 1: qty swapped between two items. Items pair in list order (a
    # tie: either pairing keeps 2 fields), so both qty fields are wrong, not right.
    gold = '{"queue": "BILL", "items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}'
    pred = {"queue": "BILL", "items": [{"sku": "A", "qty": 5}, {"sku": "B", "qty": 1}]}
    status = {k: s for k, _, s in field_diff(pred, gold)}
    assert status == {"/queue": "ok", "/items/0/sku": "ok", "/items/0/qty": "bad",
                      "/items/1/sku": "ok", "/items/1/qty": "bad"}
    # A dotted key is one key: nothing in common with the nested one.
    assert [(k, s) for k, _, s in field_diff({"ref": {"id": "7"}}, '{"ref.id": "7"}')] == [
        ("/ref.id", "miss"), ("/ref/id", "extra")]
    # The task's normalisation, as recorded in the run: case counts only when it says so.
    assert field_diff({"a": "x"}, '{"a": "X"}')[0][2] == "ok"
    assert field_diff({"a": "x"}, '{"a": "X"}', Normalize(case=False))[0][2] == "bad"


def test_cell_html_shows_the_diff_escaped_with_the_raw_output() -> None:
    cell = Cell(text='{"a": "<b>"}', prediction='{"a": "<b>"}', score=0.5,
                fields=(("a", '"<b>"', "bad"), ("c", "2", "miss")))
    html = _cell_html(cell)
    assert '<li class="d-bad">a: &quot;&lt;b&gt;&quot;</li>' in html
    assert '<li class="d-miss">c: 2</li>' in html
    assert "<details><summary>raw</summary>" in html and "<b>" not in html
