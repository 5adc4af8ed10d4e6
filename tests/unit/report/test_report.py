"""Reports: rebuilt from the store alone, identical each time, with clear errors."""

from __future__ import annotations

import json
import math

import pytest

from harness.backends import base as backends_base
from harness.backends.fake import FakeBackend
from harness.cli import main
from harness.report.markdown import render_markdown
from harness.report.writer import write_report
from harness.store import Store
from tests.unit import resultskit as kit


def _two_variant_run(project, tmp_path, capsys):
    project.write("const.j2", "Answer: BETA")
    project.write("const.yaml", "name: const\ntemplate: const.j2\n")
    text = project.config.read_text().replace("  - echo.yaml\n", "  - echo.yaml\n  - const.yaml\n")
    project.config.write_text(text)
    store, reports = tmp_path / "store", tmp_path / "reports"
    assert main(["run", str(project.config), "--store", str(store),
                 "--reports", str(reports)]) == 0
    capsys.readouterr()
    (run_dir,) = list(reports.iterdir())
    return store, run_dir


def _forbid_model_calls(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a report must not call a model")

    monkeypatch.setattr(backends_base, "create", boom)
    monkeypatch.setattr(FakeBackend, "score", boom)
    monkeypatch.setattr(FakeBackend, "generate", boom)


def test_report_latest_regenerates_identical_files(project, tmp_path, capsys, monkeypatch):
    store, run_dir = _two_variant_run(project, tmp_path, capsys)
    _forbid_model_calls(monkeypatch)
    again = tmp_path / "again"
    assert main(["report", "latest", "--store", str(store), "--reports", str(again)]) == 0
    assert capsys.readouterr().out == f"report: {again / run_dir.name / 'report.md'}\n"
    for name in ("results.json", "report.md"):
        assert (again / run_dir.name / name).read_bytes() == (run_dir / name).read_bytes()
    res = json.loads((run_dir / "results.json").read_text())
    # echo: 10 distinct prompts; const ignores its input, so one prompt, one call.
    assert res["model_calls"] == 11
    s = Store(store)
    assert s.get_run("latest").model_calls == res["model_calls"]
    s.close()


def test_report_default_run_is_latest(project, tmp_path, capsys, monkeypatch):
    store, run_dir = _two_variant_run(project, tmp_path, capsys)
    assert main(["run", str(project.config), "--store", str(store),
                 "--reports", str(tmp_path / "r2")]) == 0
    capsys.readouterr()
    s = Store(store)
    first, second = (r.run_id for r in s.runs())
    s.close()
    assert first == run_dir.name
    _forbid_model_calls(monkeypatch)
    out = tmp_path / "out"
    assert main(["report", "--store", str(store), "--reports", str(out)]) == 0
    assert main(["report", first, "--store", str(store), "--reports", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([first, second])
    assert json.loads((out / second / "results.json").read_text())["model_calls"] == 0


def test_unknown_run_id_exits_2_listing_runs(project, tmp_path, capsys):
    store, run_dir = _two_variant_run(project, tmp_path, capsys)
    code = main(["report", "no-such-run", "--store", str(store),
                 "--reports", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"{store / 'store.sqlite'}: no run 'no-such-run' in the store "
                   f"(runs: {run_dir.name})\n")
    assert not (tmp_path / "x").exists()


def test_report_without_a_store_exits_2(tmp_path, capsys):
    code = main(["report", "--store", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{tmp_path / 'nothing'}: no store here")
    assert not (tmp_path / "nothing").exists()


def test_unwritable_reports_dir_is_a_user_error(project, tmp_path, capsys):
    store, _ = _two_variant_run(project, tmp_path, capsys)
    afile = tmp_path / "afile"
    afile.write_text("x")
    code = main(["report", "--store", str(store), "--reports", str(afile / "reports")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{afile / 'reports'}/") and "cannot write the report" in err
    assert "Traceback" not in err


def test_markdown_tables(project, tmp_path, capsys):
    _, run_dir = _two_variant_run(project, tmp_path, capsys)
    md = (run_dir / "report.md").read_text()
    res = json.loads((run_dir / "results.json").read_text())
    (task,) = res["tasks"]
    assert task["baseline"] == "echo"
    assert md.startswith(f"# tunegate report: run {run_dir.name}\n")
    assert "## toy (classification, metric: accuracy)" in md
    assert "Baseline: **echo**, chosen on dev: highest dev score 1.000 (vs const 0.500)." in md
    assert "| echo (baseline) | prompt | 66.7 | [" in md
    assert "| const | prompt | 50.0 | [" in md
    assert "| 6 | 0 | 100.0 |" in md
    (cmp_,) = task["comparisons"]
    assert f"| const | echo | {100 * cmp_['delta']:+.1f} |" in md
    assert "95% CI" in md and md.endswith("|\n")


def test_nan_is_null_in_json_and_na_in_markdown(project, tmp_path, capsys, edit):
    edit(project.config, "concurrency: 2\n", "concurrency: 2\nsplits: [dev]\n")
    reports = tmp_path / "reports"
    assert main(["run", str(project.config), "--store", str(tmp_path / "s"),
                 "--reports", str(reports)]) == 0
    (run_dir,) = list(reports.iterdir())
    raw = (run_dir / "results.json").read_text()
    assert "NaN" not in raw
    (variant,) = json.loads(raw)["tasks"][0]["variants"]
    assert (variant["score"], variant["ci_low"], variant["n"]) == (None, None, 0)
    assert variant["metrics"]["accuracy"] is None
    md = (run_dir / "report.md").read_text()
    assert "| echo (baseline) | prompt | n/a | n/a | 0 | 0 | 100.0 | n/a | n/a | n/a |" in md
    assert "Note: only one variant: no comparison is possible." in md


def test_write_report_returns_the_directory(project, tmp_path, capsys):
    store_dir, run_dir = _two_variant_run(project, tmp_path, capsys)
    store = Store(store_dir)
    out = write_report(store, "latest", tmp_path / "w")
    store.close()
    assert out == tmp_path / "w" / run_dir.name
    assert {"report.md", "results.json", "index.html", "matrix.png"} <= {
        p.name for p in out.iterdir()}


def test_render_markdown_handles_missing_values():
    results = kit.results({"run_id": "r", "created": "t", "config_path": "c.yaml",
               "config_digest": "d",
               "seed": 1, "status": "done", "confidence": 0.9, "tasks": [
                   {"task": "t", "family": "classification", "metric": "accuracy",
                    "variants": [], "comparisons": [], "baseline": None},
                   {"task": "u", "family": "classification", "metric": "accuracy",
                    "baseline": "a", "baseline_reason": "why", "comparisons": [
                        {"candidate": "b", "baseline": "a", "delta": math.nan,
                         "ci_low": math.nan, "ci_high": math.nan, "n": 1, "wins": 1,
                         "losses": 0, "ties": 0, "confidence": 0.9}],
                    "variants": [{"name": "a", "kind": "prompt", "score": 0.5,
                                  "ci_low": math.nan, "ci_high": math.nan, "n": 1,
                                  "errors": 2, "prompt_tokens_mean": None,
                                  "metrics": {"macro_f1": 0.25, "invalid_rate": 0.0}}]}]})
    md = render_markdown(results)
    assert "No records for this task." in md
    assert "| a (baseline) | prompt | 50.0 | n/a | 1 | 2 | n/a | n/a | 25.0 | 0.0 |" in md
    assert "| b | a | n/a | n/a | 1 | 1 / 0 / 0 |" in md
    assert "90% CI" in md


@pytest.mark.parametrize("run", ["latest", "nope"])
def test_report_on_an_empty_store_lists_no_runs(tmp_path, capsys, run):
    Store(tmp_path / "s").close()
    assert main(["report", run, "--store", str(tmp_path / "s")]) == 2
    assert "(runs: none yet: run `tunegate run` first)" in capsys.readouterr().err
