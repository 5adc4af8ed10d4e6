"""Prompt variants: loading, rendering, and seeded few-shot selection from train."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.backends.base import BackendOptions, create, parse_spec
from harness.client import CachedModel
from harness.errors import UsageError
from harness.plan import calibration_requests, example_requests, make_plan
from harness.store import Store
from harness.tasks import load_task
from harness.variants.prompt import load_variant
from harness.variants.shots import select_shots
from tests.unit.conftest import write_jsonl

FULL = """\
{{ task.name }}: {{ task.description }}
{% for label in labels %}- {{ label.name }}: {{ label.description }}
{% endfor %}{% for shot in shots %}[{{ shot.input }}] -> {{ shot.target }}
{% endfor %}Message: {{ input }}
Answer: \
"""


@pytest.fixture
def many_labels(project):
    """A task with 4 labels and a 24-example train split (6 per label)."""
    labels = ["ALPHA", "BETA", "GAMMA", "DELTA"]
    project.split("train", [(lab, lab) for _ in range(6) for lab in labels], "tr")
    text = project.task.read_text().replace(
        "  BETA: the second kind\n", "  BETA: the second kind\n  GAMMA: g\n  DELTA: d\n")
    project.task.write_text(text)
    return load_task(project.task)


def _variant(project, name="v", template="echo.j2", extra=""):
    return load_variant(project.write(f"{name}.yaml",
                                      f"name: {name}\ntemplate: {template}\n{extra}"))


def test_load_defaults_and_digest(project):
    v = load_variant(project.variant)
    assert v.name == "echo"
    spec = v.spec
    assert (spec.kind, spec.shots, spec.shot_selection, spec.calibrate, spec.scoring) == (
        "prompt", 0, "stratified", False, "auto")
    assert v.template_text == "Message: {{ input }}\nAnswer:"
    assert len(v.digest) == 16 and v.digest == load_variant(project.variant).digest
    project.write("echo.j2", "Msg: {{ input }}\nAnswer:")
    assert load_variant(project.variant).digest != v.digest


def test_render_sees_task_labels_shots_and_input(project):
    project.write("full.j2", FULL)
    task = load_task(project.task)
    v = _variant(project, template="full.j2")
    shots = task.split("train")[:2]
    assert v.render(task, "where is it?", shots) == (
        "toy: Route a toy message.\n"
        "- ALPHA: the first kind\n- BETA: the second kind\n"
        "[tr message 0 is about ALPHA] -> ALPHA\n[tr message 1 is about BETA] -> BETA\n"
        "Message: where is it?\nAnswer:")


def test_render_undefined_name_is_a_user_error(project):
    project.write("bad.j2", "line one\n{{ inptu }}\n")
    v = _variant(project, template="bad.j2")
    with pytest.raises(UsageError, match="template error: 'inptu' is undefined") as err:
        v.render(load_task(project.task), "x", ())
    assert err.value.path == str((project.root / "bad.j2").resolve())


def test_sandbox_blocks_unsafe_attributes(project):
    project.write("evil.j2", "{{ input.__class__.__mro__ }}")
    v = _variant(project, template="evil.j2")
    with pytest.raises(UsageError, match="template error"):
        v.render(load_task(project.task), "x", ())


@pytest.mark.parametrize(("extra", "message"), [
    ("shots: -1\n", "shots: Input should be greater than or equal to 0"),
    ("kind: retrieval\n", "kind: Input should be 'prompt', 'lora' or 'rag'"),
    ("shot_selection: nearest\n",
     "shot_selection: Input should be 'stratified', 'random' or 'similar'"),
    ("constrain: json\n", "constrain: Input should be 'schema', 'labels' or 'regex'"),
    ("aggregate: mean\n", "aggregate: Input should be 'majority'"),
    ("samples: 0\n", "samples: Input should be greater than or equal to 1"),
    ("temprature: 1\n", "unknown key 'temprature'"),
])
def test_variant_spec_errors(project, extra, message):
    with pytest.raises(UsageError) as err:
        _variant(project, extra=extra)
    assert err.value.line == 3
    assert err.value.message.startswith(message), err.value.message


def test_no_shots_when_k_is_zero(project):
    assert select_shots(load_task(project.task), load_variant(project.variant), 0) == ()


@pytest.mark.parametrize("selection", ["stratified", "random"])
def test_shots_come_only_from_train_and_are_seeded(many_labels, project, selection):
    v = _variant(project, extra=f"shots: 6\nshot_selection: {selection}\n")
    shots = select_shots(many_labels, v, seed=1)
    train_ids = {ex.id for ex in many_labels.split("train")}
    assert len(shots) == 6 and len({s.id for s in shots}) == 6
    assert {s.id for s in shots} <= train_ids
    assert all(s.split == "train" for s in shots)
    assert select_shots(many_labels, v, seed=1) == shots
    others = {tuple(s.id for s in select_shots(many_labels, v, seed=k)) for k in range(2, 8)}
    assert len(others - {tuple(s.id for s in shots)}) >= 3


def test_stratified_covers_every_label(many_labels, project):
    for k, per_label in ((4, 1), (8, 2)):
        v = _variant(project, extra=f"shots: {k}\n")
        for seed in range(5):
            counts = Counter(s.target for s in select_shots(many_labels, v, seed))
            assert counts == dict.fromkeys(["ALPHA", "BETA", "GAMMA", "DELTA"], per_label)


def test_stratified_with_fewer_shots_than_labels_uses_distinct_labels(many_labels, project):
    v = _variant(project, extra="shots: 3\n")
    shots = select_shots(many_labels, v, seed=0)
    assert len({s.target for s in shots}) == 3


def test_more_shots_than_train_takes_all_of_train(project):
    task = load_task(project.task)
    v = _variant(project, extra="shots: 20\n")
    assert sorted(s.id for s in select_shots(task, v, 0)) == sorted(
        ex.id for ex in task.split("train"))


def test_shots_depend_on_k_and_selection_not_on_the_variant(many_labels, project):
    # Variants that differ only in name, template or calibration see the same
    # demonstrations: a calibrated few-shot variant is the plain one plus calibration.
    def ids(name, extra):
        variant = _variant(project, name, extra=extra)
        return tuple(s.id for s in select_shots(many_labels, variant, 0))
    plain = ids("a", "shots: 4\n")
    assert ids("b", "shots: 4\ncalibrate: true\n") == plain
    assert ids("c", "shots: 4\nshot_selection: stratified\n") == plain
    # Another k or another rule is a draw of its own (seeded by it).
    assert ids("d", "shots: 4\nshot_selection: random\n") != plain
    draws = {ids(f"k{k}", f"shots: {k}\n") for k in (4, 5, 6, 7)}
    assert len(draws) == 4


def test_a_calibrated_variant_sends_the_plain_variants_requests(many_labels, project, tmp_path):
    # The per-example label-scoring requests are identical, so the response cache
    # serves them; calibration adds only its content-free requests.
    backend = create(parse_spec("fake:keyword"), BackendOptions())
    model = CachedModel(backend, Store(tmp_path / "st"))
    plain = _variant(project, "plain", extra="shots: 4\n")
    cal = _variant(project, "cal", extra="shots: 4\ncalibrate: true\n")
    plans = [make_plan(model, many_labels, v, select_shots(many_labels, v, 7))
             for v in (plain, cal)]
    for ex in many_labels.split("test"):
        assert example_requests(model, plans[0], ex) == example_requests(model, plans[1], ex)
    assert calibration_requests(plans[0]) == [] and len(calibration_requests(plans[1])) > 0


def test_shots_without_train_split_is_a_user_error(project, edit):
    edit(project.task, "    train: data/train.jsonl\n", "")
    v = _variant(project, extra="shots: 2\n")
    with pytest.raises(UsageError, match="needs 2 shots but task 'toy' has no train split"):
        select_shots(load_task(project.task), v, 0)


def test_real_baselines_render(root):
    task = load_task(root / "tasks" / "support_routing.yaml")
    ex = task.split("test")[0]
    few = load_variant(root / "baselines" / "few_shot.yaml")
    shots = select_shots(task, few, 13)
    assert sorted(s.target for s in shots) == sorted(task.spec.labels)
    text = few.render(task, ex.input, shots)
    assert text.startswith(task.spec.description + "\n\nLabels:\n")
    assert text.endswith(f"Text: {ex.input}\nLabel:")
    assert text.count("Text: ") == 9 and text.count("\nLabel: ") == 8
    assert "- ORCA: billing disputes and invoice errors" in text
    bare = load_variant(root / "baselines" / "bare.yaml")
    assert bare.render(task, ex.input, ()) == f"Text: {ex.input}\nLabel:"


SENTIMENT = """\
name: sentiment
family: classification
description: Say whether the review likes the film.
data:
  columns: {id: id, input: text, target: label}
  files: {train: sdata/train.jsonl, dev: sdata/dev.jsonl, test: sdata/test.jsonl}
labels:
  POS: the reviewer liked it
  NEG: ""
metric: accuracy
"""


def test_baseline_templates_are_generic(root, project):
    """Every baseline speaks of the task, its labels and the family, never of the demo."""
    project.write("s.yaml", SENTIMENT)
    for split in ("train", "dev", "test"):
        write_jsonl(project.root / "sdata" / f"{split}.jsonl",
                    [{"id": f"{split}{i}", "text": f"review {i}", "label": lab}
                     for i, lab in enumerate(["POS", "NEG"])])
    task = load_task(project.root / "s.yaml")
    demo_words = ("Queue", "Message", "Lumen", "route", "ticket")
    for path in sorted((root / "baselines").glob("*.yaml")):
        variant = load_variant(path)
        if not variant.applies_to(task):
            continue
        text = variant.render(task, "a slow, lovely film", select_shots(task, variant, 0)
                              if variant.spec.shot_selection != "similar" else
                              task.split("train")[:2])
        text += variant.render_system(task)
        assert not [w for w in demo_words if w in text], (path.name, text)
        assert "a slow, lovely film" in text, path.name
        if variant.spec.kind == "lora" or variant.name == "bare":
            continue
        assert "Say whether the review likes the film." in text, path.name
        # Label names with their descriptions; an empty description adds no colon.
        assert "- POS: the reviewer liked it\n- NEG\n" in text, path.name


def test_file_final_newline_and_trailing_spaces_are_not_prompt(project):
    task = load_task(project.task)
    project.write("nl.j2", "Message: {{ input }}\nAnswer: \n")
    assert _variant(project, template="nl.j2").render(task, "hi", ()) == "Message: hi\nAnswer:"
    project.write("nl2.j2", "Message: {{ input }}\nAnswer:\n\n")
    assert _variant(project, "w", template="nl2.j2").render(task, "hi", ()) == (
        "Message: hi\nAnswer:\n")
