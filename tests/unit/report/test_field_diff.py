"""Diff highlighting of format outputs in the side-by-side view."""

from __future__ import annotations

from harness.report.sidebyside import Cell, _cell_html, field_diff


def test_field_diff_marks_right_wrong_extra_and_missing() -> None:
    gold = '{"order": "A1", "issue": {"kind": "late", "days": 3}, "tags": ["x"]}'
    pred = {"order": "A1", "issue": {"kind": "lost", "days": 3}, "note": "hi"}
    rows = {k: (v, s) for k, v, s in field_diff(pred, gold)}
    assert rows["order"] == ('"A1"', "ok")
    assert rows["issue.kind"] == ('"lost"', "bad")
    assert rows["issue.days"] == ("3", "ok")
    assert rows["note"] == ('"hi"', "extra")
    assert rows["tags"] == ('["x"]', "miss")


def test_field_diff_needs_two_json_objects() -> None:
    assert field_diff("not json", '{"a": 1}') == ()
    assert field_diff({"a": 1}, "PLAIN_LABEL") == ()
    assert field_diff('["a"]', '["a"]') == ()
    assert field_diff('{"a": 1}', '{"a": 1}') == (("a", "1", "ok"),)


def test_cell_html_shows_the_diff_escaped_with_the_raw_output() -> None:
    cell = Cell(text='{"a": "<b>"}', prediction='{"a": "<b>"}', score=0.5,
                fields=(("a", '"<b>"', "bad"), ("c", "2", "miss")))
    html = _cell_html(cell)
    assert '<li class="d-bad">a: &quot;&lt;b&gt;&quot;</li>' in html
    assert '<li class="d-miss">c: 2</li>' in html
    assert "<details><summary>raw</summary>" in html and "<b>" not in html
