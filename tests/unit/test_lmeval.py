"""lm-eval export: YAML that lm-eval's own TaskManager loads, with tunegate's prompts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.lmeval import export_lmeval, label_regex
from harness.predict import label_continuations, match_label
from harness.tasks import load_task
from harness.variants.prompt import load_variant

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "tasks" / "support_routing.yaml"


def test_export_writes_absolute_paths_and_rendered_prompts(tmp_path: Path) -> None:
    task = load_task(TASK)
    variant = load_variant(ROOT / "baselines" / "few_shot.yaml")
    out = export_lmeval(task, tmp_path / "lm", variant, "test", seed=13)
    assert out.tasks == ("tunegate_support_routing_few_shot",
                         "tunegate_support_routing_few_shot_gen")
    mc = yaml.safe_load(out.yaml_files[0].read_text())
    data = Path(mc["dataset_kwargs"]["data_files"]["test"])
    assert data.is_absolute() and data == out.data_file
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    assert [r["id"] for r in rows] == [ex.id for ex in task.split("test")]
    from harness.variants.shots import select_shots

    first = task.split("test")[0]
    prompt = variant.render(task, first.input, select_shots(task, variant, 13))
    assert rows[0]["prompt"] == prompt
    assert rows[0]["choices"] == list(label_continuations(prompt, list(task.spec.labels)))
    assert list(task.spec.labels)[rows[0]["gold"]] == first.target
    gen = yaml.safe_load(out.yaml_files[1].read_text())
    assert gen["filter_list"][0]["filter"][0]["regex_pattern"].startswith("(?i)")


@pytest.mark.parametrize("text", [" tide", "TIDE.", " Tide\n", "I think TIDE", "TIDE or ORCA",
                                  "", "  orca!"])
def test_label_regex_agrees_with_strict_matching(text: str) -> None:
    labels = ["ORCA", "TIDE"]
    line = text.strip().splitlines()[0] if text.strip() else ""
    found = re.findall(label_regex(labels), line)
    ours = match_label(text, labels)
    assert (found[0].upper() if found else None) == ours


def test_lm_eval_task_manager_loads_the_export(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="needs the lmeval extra")
    from harness.lmeval import import_lm_eval

    import_lm_eval()
    from lm_eval.tasks import TaskManager, get_task_dict

    out = export_lmeval(load_task(TASK), tmp_path, None, "test")
    manager = TaskManager(include_path=str(tmp_path))
    assert set(out.tasks) <= set(manager.all_tasks)
    tasks = get_task_dict(list(out.tasks), manager)
    mc = tasks[out.tasks[0]]
    docs = list(mc.test_docs())
    assert len(docs) == len(out.ids)
    assert mc.doc_to_text(docs[0]) == docs[0]["prompt"]
    assert mc.doc_to_choice(docs[0])[mc.doc_to_target(docs[0])] == " " + \
        load_task(TASK).split("test")[0].target


def test_cli_export_and_bad_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-lmeval", str(TASK), "--out", str(tmp_path / "x")]) == 0
    assert "lm_eval --include_path" in capsys.readouterr().out
    assert main(["export-lmeval", str(tmp_path / "nope.yaml"), "--out", str(tmp_path)]) == 2


def test_lm_eval_generations_are_read_and_scored_as_tunegate_reads_them() -> None:
    # A format task's generated text goes through the task's own parser (the one the
    # gold check uses), then every applicable scorer with the task. Before, the raw
    # text was the prediction and task scorers were called without their task.
    from harness.lmeval_run import _sample_output
    from harness.scoring import score_all

    task = load_task(ROOT / "tasks" / "support_record.yaml")
    example = task.split("test")[0]
    sample = {"doc_id": 0, "resps": [[f"Here you go: {example.target}"]],
              "filtered_resps": [example.target]}
    output = _sample_output(sample, "generate_until", [], task)
    assert output.detail["parse"] == "extracted" and output.detail["doc_id"] == 0
    assert json.loads(output.prediction) == json.loads(example.target)
    values = {k: v["value"] for k, v in score_all(task, example, output).items()}
    # The gold itself, extracted from one sentence: strict parse 0, everything else 1.
    assert values.pop("parse_strict") == 0.0
    assert set(values.values()) == {1.0}


@pytest.mark.parametrize(("arguments", "prompt"), [
    ([("Message: hi\nAnswer:", " ALPHA"), ("Message: hi\nAnswer:", " BETA")],
     "Message: hi\nAnswer:"),  # in memory: one (context, continuation) tuple per request
    ([["Q: x\nA:", {"until": ["\n"]}]], "Q: x\nA:"),  # as JSON: lists
    ({"gen_args_0": {"arg_0": "Q: y\nA:", "arg_1": " y"}}, "Q: y\nA:"),  # newer logs
    (None, None), ([], None), ([[]], None), ([[3]], None)])
def test_the_prompt_lm_eval_sent_is_read_from_its_sample(arguments, prompt):
    from harness.lmeval_run import _sample_prompt

    assert _sample_prompt({"arguments": arguments}) == prompt


def test_cli_run_imports_lm_evals_samples_and_renders_the_report(
        project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # lm-eval itself is the execute stage (its evaluator stands in here, giving
    # the gold label the higher log-likelihood on 5 of the 6 test examples);
    # the imported run is analysed and rendered like any other run.
    from harness import lmeval_run as lmeval
    from harness.store import Store

    task = load_task(project.task)

    def evaluate(lm_task: str, opts: lmeval.LmevalOptions) -> dict[str, object]:
        samples = []
        for i, ex in enumerate(task.split("test")):
            right = i != 0
            gold_first = (ex.target == "ALPHA") == right
            lls = [[-1.0], [-2.0]] if gold_first else [[-2.0], [-1.0]]
            samples.append({"doc_id": i, "doc": {"id": ex.id}, "filter": "none",
                            "filtered_resps": lls, "resps": lls})
        return {"results": {lm_task: {"acc,none": 5 / 6}}, "samples": {lm_task: samples}}

    monkeypatch.setattr(lmeval, "_evaluate", evaluate)
    store, reports = tmp_path / "st", tmp_path / "rep"
    assert main(["export-lmeval", str(project.task), "--out", str(tmp_path / "lm"), "--run",
                 "hf", "--store", str(store), "--reports", str(reports)]) == 0
    lines = capsys.readouterr().out.splitlines()
    run_id = lines[-2].rsplit(" ", 1)[1]
    assert lines[-1] == f"report: {reports / run_id / 'report.md'}"
    results = json.loads((reports / run_id / "results.json").read_text())
    [row] = [t for t in results["tasks"] if t["task"] == "toy"]
    assert len(list(Store(store).records(run_id))) == 6
    [variant] = row["variants"]
    assert variant["metrics"]["accuracy"] == pytest.approx(5 / 6)  # 5 of 6 right
