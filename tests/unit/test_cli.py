"""The ``tunegate`` CLI: every ``validate`` user error, and ``run`` end to end (fake backend)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import cli
from harness.cli import main
from harness.runner import Runner

Edit = Callable[[Path, str, str], Path]
# A case edits the toy project and returns (file to validate, expected "path:line:"
# prefix, substrings the message must contain).
Case = Callable[[object, Edit], tuple[Path, str, list[str]]]


def _malformed(p, edit):
    edit(p.task, "metric: accuracy\n", "metric: accuracy: twice\n")
    return p.task, f"{p.task}:13:", ["malformed YAML", "mapping values are not allowed"]


def _missing_key(p, edit):
    edit(p.task, "name: toy\n", "")
    return p.task, f"{p.task}:1:", ["missing required key 'name'"]


def _missing_family(p, edit):
    edit(p.task, "family: classification\n", "")
    return p.task, f"{p.task}:1:", ["missing required key 'family'", "classification"]


def _unknown_key(p, edit):
    edit(p.task, "metric: accuracy\n", "metrc: accuracy\n")
    return p.task, f"{p.task}:13:", ["unknown key 'metrc'"]


def _unknown_nested_key(p, edit):
    edit(p.task, "  columns:", "  colums:")
    return p.task, f"{p.task}:5:", ["unknown key 'data.colums'"]


def _wrong_type(p, edit):
    edit(p.task, "metric: accuracy\n", "metric: accuracy\ngeneration:\n  max_tokens: many\n")
    return p.task, f"{p.task}:15:", ["generation.max_tokens", "valid integer"]


def _wrong_type_family(p, edit):
    edit(p.task, "family: classification", "family: [classification]")
    return p.task, f"{p.task}:2:", ["unknown family", "classification"]


def _missing_data_file(p, edit):
    edit(p.task, "dev: data/dev.jsonl", "dev: data/nope.jsonl")
    return p.task, f"{p.task}:8:", ["data file not found", "nope.jsonl"]


def _missing_column(p, edit):
    edit(p.task, "target: label", "target: queue")
    return p.task, f"{p.task}:5:", ["column 'queue'", "missing", "columns there: id, text, label"]


def _label_outside(p, edit):
    p.split("test", [("ALPHA", "ALPHA"), ("BETA", "BETA"), ("GAMMA", "ALPHA")], "te")
    data = (p.data / "test.jsonl").resolve()
    return p.task, f"{data}:3:", ["label 'GAMMA'", "'te2'", "not in 'labels'", "ALPHA, BETA"]


def _duplicate_ids(p, edit):
    p.split("test", [("ALPHA", "ALPHA"), ("BETA", "BETA")], "tr")
    test, train = (p.data / "test.jsonl").resolve(), (p.data / "train.jsonl").resolve()
    return p.task, f"{test}:1:", ["duplicate id 'tr0'", f"first at {train}:1"]


def _empty_split(p, edit):
    (p.data / "dev.jsonl").write_text("")
    return p.task, f"{p.task}:8:", ["split 'dev' is empty"]


def _unknown_family(p, edit):
    edit(p.task, "family: classification", "family: regression")
    return p.task, f"{p.task}:2:", ["unknown family 'regression'", "one of: classification"]


def _bad_fractions(p, edit):
    edit(p.task, "  files:\n    train: data/train.jsonl\n    dev: data/dev.jsonl\n"
         "    test: data/test.jsonl\n",
         "  path: data/train.jsonl\n  split_rule: {seed: 1, dev: 0.6, test: 0.5}\n")
    return p.task, f"{p.task}:7:", ["split_rule", "dev + test fractions"]


def _fraction_out_of_range(p, edit):
    edit(p.task, "  files:\n    train: data/train.jsonl\n    dev: data/dev.jsonl\n"
         "    test: data/test.jsonl\n",
         "  path: data/train.jsonl\n  split_rule:\n    seed: 1\n    test: 1.5\n")
    return p.task, f"{p.task}:9:", ["data.split_rule.test", "less than 1"]


def _missing_template(p, edit):
    edit(p.variant, "template: echo.j2", "template: nope.j2")
    return p.variant, f"{p.variant}:2:", ["template file not found", "nope.j2"]


def _template_syntax(p, edit):
    p.write("echo.j2", "Message:\n{{ input }\nAnswer:")
    tpl = (p.root / "echo.j2").resolve()
    return p.variant, f"{tpl}:2:", ["template syntax error", "'}'"]


def _config_missing_task(p, edit):
    edit(p.config, "  - task.yaml\n", "  - task.yaml\n  - nope.yaml\n")
    return p.config, f"{p.config}:5:", ["task file not found", "nope.yaml"]


def _config_unknown_backend(p, edit):
    edit(p.config, "  - fake:keyword\n", "  - fake:keyword\n  - openia:gpt\n")
    return p.config, f"{p.config}:9:", ["unknown backend 'openia'", "valid: embedded, fake"]


def _config_bad_task(p, edit):
    edit(p.task, "metric: accuracy\n", "metrc: accuracy\n")
    return p.config, f"{p.task.resolve()}:13:", ["unknown key 'metrc'"]


CASES: dict[str, Case] = {
    "malformed_yaml": _malformed, "missing_key": _missing_key,
    "missing_family": _missing_family, "unknown_key": _unknown_key,
    "unknown_nested_key": _unknown_nested_key, "wrong_type": _wrong_type,
    "wrong_type_family": _wrong_type_family, "missing_data_file": _missing_data_file,
    "missing_column": _missing_column, "label_outside_labels": _label_outside,
    "duplicate_ids_across_splits": _duplicate_ids, "empty_split": _empty_split,
    "unknown_family": _unknown_family, "bad_split_fractions": _bad_fractions,
    "split_fraction_out_of_range": _fraction_out_of_range,
    "missing_template": _missing_template, "template_syntax_error": _template_syntax,
    "config_missing_task_file": _config_missing_task,
    "config_unknown_backend": _config_unknown_backend,
    "config_names_a_bad_task": _config_bad_task,
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_validate_user_error(case, project, edit, capsys):
    path, prefix, parts = CASES[case](project, edit)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith(prefix + " "), err
    for part in parts:
        assert part in err, (part, err)
    assert "Traceback" not in err
    assert err.count("\n") == 1


def test_validate_toy_files_ok(project, capsys):
    code = main(["validate", str(project.task), str(project.variant), str(project.config)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    assert out.splitlines() == [
        f"{project.task}: ok: task toy (classification; train 8, dev 4, test 6)",
        f"{project.variant}: ok: variant echo (prompt)",
        f"{project.config}: ok: run toyrun (1 tasks x 1 variants x 1 models)",
    ]


def test_validate_reports_every_bad_file(project, edit, capsys):
    edit(project.variant, "template: echo.j2", "template: nope.j2")
    code = main(["validate", str(project.task), str(project.variant), str(project.config)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines() == [
        f"{project.task}: ok: task toy (classification; train 8, dev 4, test 6)"]
    assert err.count("template file not found") == 2
    assert f"{project.variant}:2: " in err


def test_validate_real_repo_files(root, monkeypatch, capsys):
    monkeypatch.chdir(root)
    files = ["tasks/support_routing.yaml", "baselines/bare.yaml", "baselines/calibrated.yaml",
             "baselines/few_shot.yaml", "baselines/lora.yaml", "baselines/zero_shot.yaml",
             "examples/demo.yaml"]
    assert set(files[1:6]) <= {str(p.relative_to(root)) for p in root.glob("baselines/*.yaml")}
    code = main(["validate", *files])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("tasks/support_routing.yaml: ok: task support_routing "
                        "(classification; train 240, dev 64, test 80)")
    assert lines[-1] == "examples/demo.yaml: ok: run demo (6 tasks x 7 variants x 1 models)"
    assert len(lines) == 7


def _results(reports: Path) -> dict:
    (run_dir,) = [d for d in reports.iterdir() if d.is_dir()]
    return json.loads((run_dir / "results.json").read_text())


def test_run_writes_report_and_second_run_is_all_cache(project, tmp_path, capsys):
    store, reports = tmp_path / "store", tmp_path / "reports"
    args = ["run", str(project.config), "--store", str(store), "--reports", str(reports)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "10 examples scored, 0 already stored, 10 model calls" in out
    assert "zero model calls" not in out
    (run_dir,) = list(reports.iterdir())
    assert (run_dir / "report.md").read_text().startswith(f"# tunegate report: run {run_dir.name}")
    res = json.loads((run_dir / "results.json").read_text())
    assert res["run_id"] == run_dir.name
    assert {"run_id", "created", "config_digest", "tasks"} <= set(res)
    (task,) = res["tasks"]
    assert {k: task[k] for k in ("task", "family", "metric", "baseline")} == {
        "task": "toy", "family": "classification", "metric": "accuracy", "baseline": "echo"}
    assert task["comparisons"] == []
    (variant,) = task["variants"]
    assert variant["score"] == pytest.approx(4 / 6)
    assert variant["dev_score"] == pytest.approx(1.0)
    assert variant["n"] == 6

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "10 examples scored, 0 already stored, 0 model calls, 10 cache hits" in out
    assert "all responses came from the cache: zero model calls" in out
    assert len(list(reports.iterdir())) == 2


def test_baseline_is_chosen_on_dev_not_test(project, tmp_path, capsys):
    # echo predicts the label the message names; const always answers BETA.
    # dev: messages name the gold label (echo 100%, const 50%);
    # test: every gold is BETA but messages name ALPHA (echo 0%, const 100%).
    project.split("dev", [("ALPHA", "ALPHA"), ("BETA", "BETA")] * 2, "dv")
    project.split("test", [("BETA", "ALPHA")] * 5, "te")
    project.write("const.j2", "Answer: BETA")
    const = project.write("const.yaml", "name: const\ntemplate: const.j2\n")
    text = project.config.read_text().replace("  - echo.yaml\n", f"  - echo.yaml\n  - {const}\n")
    project.config.write_text(text)
    reports = tmp_path / "reports"
    code = main(["run", str(project.config), "--store", str(tmp_path / "s"),
                 "--reports", str(reports)])
    assert code == 0, capsys.readouterr().err
    (task,) = _results(reports)["tasks"]
    scores = {v["name"]: (v["dev_score"], v["score"]) for v in task["variants"]}
    assert scores == {"echo": (1.0, 0.0), "const": (0.5, 1.0)}
    assert task["baseline"] == "echo"
    assert "highest dev score 1.000" in task["baseline_reason"]
    (cmp_,) = task["comparisons"]
    assert (cmp_["baseline"], cmp_["candidate"]) == ("echo", "const")
    assert cmp_["delta"] == pytest.approx(1.0)
    assert (cmp_["wins"], cmp_["losses"], cmp_["ties"]) == (5, 0, 0)


def test_run_unwritable_store_exits_2(project, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    code = main(["run", str(project.config), "--store", str(afile / "store"),
                 "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{afile / 'store'}: cannot open the store")
    assert "Traceback" not in err


def test_run_bad_config_exits_2(project, edit, tmp_path, capsys):
    edit(project.config, "  - fake:keyword\n", "  - fakee:keyword\n")
    code = main(["run", str(project.config), "--store", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{project.config}:8: unknown backend 'fakee'")
    assert "did you mean 'fake'?" in err
    assert not (tmp_path / "s").exists()


def test_run_interrupted_exits_130(project, tmp_path, monkeypatch, capsys):
    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Runner, "run", interrupted)
    code = main(["run", str(project.config), "--store", str(tmp_path / "s"),
                 "--reports", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED == 130
    assert "run the same command again to resume" in err
    assert not (tmp_path / "r").exists()


def test_run_with_errors_exits_1(project, edit, tmp_path, capsys):
    edit(project.config, "  - fake:keyword\n", "  - fake:flaky\nmax_retries: 0\n")
    reports = tmp_path / "r"
    code = main(["run", str(project.config), "--store", str(tmp_path / "s"),
                 "--reports", str(reports)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "examples failed after retries; run again to retry them" in err
    (task,) = _results(reports)["tasks"]
    (variant,) = task["variants"]
    assert variant["errors"] > 0
    assert variant["n"] + variant["errors"] == 6


def _boom(args):
    raise KeyError("a bug")


def test_a_crash_exits_70_with_one_line_naming_the_log(project, tmp_path, monkeypatch,
                                                       capsys):
    # Exit 1 means "the gate failed" to CI; a bug must exit 70 (EX_SOFTWARE) instead.
    monkeypatch.setattr(cli, "cmd_run", _boom)
    store = tmp_path / "s"
    code = main(["run", str(project.config), "--store", str(store)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERNAL == 70
    assert err.count("\n") == 1 and "Traceback" not in err
    (log,) = (store / "logs").glob("crash-*.log")
    assert err == (f"internal error (a bug in tunegate, not a failed gate): KeyError: 'a bug'; "
                   f"traceback in {log.resolve()}; please report it\n")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'a bug'" in text
    assert f"command: tunegate run {project.config} --store {store}" in text


def test_a_crash_logs_to_the_temp_folder_when_the_store_cannot_be_written(
        project, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "cmd_run", _boom)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    assert main(["run", str(project.config), "--store", str(afile / "store")]) == 70
    err = capsys.readouterr().err
    (log,) = (tmp_path / "tmp" / "tunegate").glob("crash-*.log")
    assert f"traceback in {log.resolve()}" in err


def test_until_interrupted_closes_the_feedback_and_says_how_to_resume(capsys) -> None:
    # One helper for run, gate and compare-base: Ctrl-C gives None (exit 130 upstream) and
    # the resume hint; a normal return passes the value through; feedback closes either way.
    from harness.commands.evaluate import _until_interrupted

    class Feedback:
        closed = 0

        def close(self) -> None:
            self.closed += 1

    def interrupted() -> int:
        raise KeyboardInterrupt

    fb = Feedback()
    assert _until_interrupted(fb, interrupted) is None  # type: ignore[arg-type]
    assert fb.closed >= 1
    assert "interrupted: finished examples are kept" in capsys.readouterr().err
    fb2 = Feedback()
    assert _until_interrupted(fb2, lambda: 7) == 7  # type: ignore[arg-type]
    assert fb2.closed == 1 and capsys.readouterr().err == ""
