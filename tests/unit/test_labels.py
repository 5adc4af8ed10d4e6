"""Issue 14 case 2: label matching never changes what the user wrote.

An exact match wins; only then the answer and the labels are normalised the
same way; labels that collide under that normalisation are refused at load;
the label that reaches the scorer is the string of the task file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from harness.backends.base import Capabilities, GenRequest, GenResponse
from harness.cli import main
from harness.client import CachedModel
from harness.errors import UsageError
from harness.lmeval import label_regex
from harness.predict import make_plan, predict_classification
from harness.scoring.classification import label_accuracy, summarize
from harness.store import Store
from harness.tasks import load_task
from harness.textnorm import label_collisions, label_key, match_label
from harness.variants.prompt import load_variant


def test_label_with_a_trailing_dot_matches_itself() -> None:
    # Today the answer "U.S." lost its dot ("u.s") while the label kept it ("u.s."): invalid.
    assert match_label("U.S.", ["U.S.", "E.U."]) == "U.S."
    assert match_label(" E.U.\n", ["U.S.", "E.U."]) == "E.U."
    # Normalised on both sides: "u.s" == "u.s", so a dropped dot or case still matches.
    assert match_label("u.s", ["U.S.", "E.U."]) == "U.S."


def test_exact_match_wins_over_a_case_variant() -> None:
    # Today {lab.lower(): lab} kept the last of Pro/PRO, so "Pro" became "PRO".
    assert match_label("Pro", ["Pro", "PRO", "Basic"]) == "Pro"
    assert match_label("PRO", ["Pro", "PRO", "Basic"]) == "PRO"
    # "pro" is neither exactly; normalised it fits both: invalid, never a guess.
    assert match_label("pro", ["Pro", "PRO", "Basic"]) is None


def test_collisions_are_found_under_the_matching_normalisation() -> None:
    assert label_collisions(["Pro", "PRO", "Basic"]) == [(0, 1)]
    assert label_collisions(["U.S.", "U.S", "E.U."]) == [(0, 1)]
    assert label_collisions(["U.S.", "E.U."]) == []
    assert label_collisions(["ok", "..."]) == [(1, 1)]  # "..." would match an empty answer


labels_st = st.lists(st.text(alphabet="abAB .*", min_size=1, max_size=6), min_size=2,
                     max_size=5, unique=True)


@given(labels_st, st.data())
def test_a_label_always_matches_itself_exactly(labels: list[str], data: st.DataObject) -> None:
    label = data.draw(st.sampled_from(labels))
    assume(label.strip() == label and label)  # an answer line is stripped of whitespace
    assert match_label(label, labels) == label


@given(labels_st, st.text(alphabet="abAB .*\n", max_size=10))
def test_a_match_is_a_label_or_nothing(labels: list[str], answer: str) -> None:
    found = match_label(answer, labels)
    assert found is None or found in labels
    if found is not None and not label_collisions(labels):
        first = next((ln.strip() for ln in answer.splitlines() if ln.strip()), "")
        assert first == found or label_key(first) == label_key(found)


@given(labels_st, st.data())
def test_without_collisions_decoration_does_not_change_the_match(
        labels: list[str], data: st.DataObject) -> None:
    assume(not label_collisions(labels))
    label = data.draw(st.sampled_from(labels))
    decorated = data.draw(st.sampled_from(["**{}**", " {}. ", "`{}`", "{}!"])).format(
        label.swapcase())
    assert match_label(decorated, labels) == label


class Says:
    """A backend without logprobs that answers with the gold label named in the prompt."""

    capabilities = Capabilities(logprobs=False, tokenizer=False, max_concurrency=1)
    identity = {"backend": "says", "model": "gold", "adapter": None}

    def generate(self, request: GenRequest) -> GenResponse:
        return GenResponse(request.prompt.split("say ")[-1].split("\n")[0], 5, 1)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def close(self) -> None:
        pass


def test_generated_us_answers_score_100_percent(tmp_path: Path) -> None:
    # Two test examples, golds U.S. and E.U.; the model answers each gold exactly.
    # Today both were invalid (accuracy 0.0); right: 2/2 correct, accuracy 1.0.
    rows = [{"id": "a", "text": "say U.S.", "label": "U.S."},
            {"id": "b", "text": "say E.U.", "label": "E.U."}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "t.yaml").write_text(
        "name: region\nfamily: classification\ndata:\n  columns: {id: id, input: text, "
        "target: label}\n  files: {test: d.jsonl}\nlabels: [U.S., E.U.]\n")
    (tmp_path / "v.j2").write_text("{{ input }}\n")
    (tmp_path / "v.yaml").write_text("name: v\ntemplate: v.j2\n")
    task, variant = load_task(tmp_path / "t.yaml"), load_variant(tmp_path / "v.yaml")
    store = Store(tmp_path / "store")
    try:
        model = CachedModel(Says(), store)  # type: ignore[arg-type]
        plan = make_plan(model, task, variant, ())
        outs = [predict_classification(model, plan, ex)[0] for ex in task.split("test")]
    finally:
        store.close()
    assert [o.prediction for o in outs] == ["U.S.", "E.U."]
    scores = [label_accuracy(ex, o).value for ex, o in zip(task.split("test"), outs,
                                                            strict=True)]
    assert scores == [1.0, 1.0]
    summary = summarize([ex.target for ex in task.split("test")],
                        [o.prediction for o in outs], list(task.spec.labels))
    assert (summary.accuracy, summary.invalid_rate) == (1.0, 0.0)


def _pro_task(tmp_path: Path, labels: str) -> Path:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "x", "label": "Pro"}\n')
    path = tmp_path / "t.yaml"
    path.write_text("name: plan\nfamily: classification\ndata:\n  columns: {id: id, input: "
                    f"text, target: label}}\n  files: {{test: d.jsonl}}\nlabels:\n{labels}")
    return path


def test_validate_refuses_labels_that_collide(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # PRO is on line 8 of the task file (labels: on line 6, Pro on 7).
    path = _pro_task(tmp_path, "  - Pro\n  - PRO\n  - Basic\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:8: labels 'Pro' and 'PRO' differ only in case or "
                          "surrounding punctuation")
    assert err.count("\n") == 1
    # A mapping of labels is located at the colliding key.
    path = _pro_task(tmp_path, "  Pro: paid\n  Basic: free\n  PRO: paid too\n")
    with pytest.raises(UsageError) as exc:
        load_task(path)
    assert exc.value.line == 9


def test_labels_reach_the_scorer_as_written(tmp_path: Path) -> None:
    # YAML would read yes/no as booleans and 1.50 as 1.5; the user wrote the text.
    (tmp_path / "d.jsonl").write_text(
        '{"input": "a", "target": "yes"}\n{"input": "b", "target": "1.50"}\n'
        '{"input": "c", "target": true}\n')
    (tmp_path / "t.yaml").write_text(
        "name: yn\nfamily: classification\ndata:\n  files: {test: d.jsonl}\n"
        "labels: [yes, no, 1.50, true]\n")
    task = load_task(tmp_path / "t.yaml")
    assert list(task.spec.labels) == ["yes", "no", "1.50", "true"]
    # A JSON true is the text "true" (not Python's "True"), as the user wrote it.
    assert [ex.target for ex in task.split("test")] == ["yes", "1.50", "true"]


def test_mapping_keys_are_kept_as_written(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"input": "a", "target": "no"}\n')
    (tmp_path / "t.yaml").write_text(
        "name: yn\nfamily: classification\ndata:\n  files: {test: d.jsonl}\n"
        "labels:\n  yes: agrees\n  no: refuses\n")
    assert load_task(tmp_path / "t.yaml").spec.labels == {"yes": "agrees", "no": "refuses"}


@pytest.mark.parametrize("text", ["U.S.", " u.s ", "**U.S.**", "U.S", "E.U.", "US", "",
                                  "the U.S.", "U.S. or E.U."])
def test_lmeval_regex_agrees_with_tunegate_on_dotted_labels(text: str) -> None:
    labels = ["U.S.", "E.U."]
    line = text.strip().splitlines()[0] if text.strip() else ""
    found = re.findall(label_regex(labels), line)
    ours = match_label(text, labels)
    theirs = [lab for lab in labels if found and label_key(lab) == label_key(found[0])]
    assert (theirs[0] if theirs else None) == ours


def test_lmeval_export_compares_label_cores(tmp_path: Path) -> None:
    from harness.lmeval import export_lmeval

    (tmp_path / "d.jsonl").write_text('{"id": "a", "input": "x", "target": "U.S."}\n')
    (tmp_path / "t.yaml").write_text(
        "name: region\nfamily: classification\ndata:\n  files: {test: d.jsonl}\n"
        "labels: [U.S., E.U.]\n")
    out = export_lmeval(load_task(tmp_path / "t.yaml"), tmp_path / "lm")
    (row,) = [json.loads(x) for x in out.data_file.read_text().splitlines()]
    # The regex captures "U.S" from the answer "U.S."; the gold it is compared with is the
    # label's core "U.S" too (today: the regex needed "U.S." and the target kept its dot).
    assert (row["target"], row["target_core"], row["gold"]) == ("U.S.", "U.S", 0)
    gen = out.yaml_files[1].read_text()
    assert "doc_to_target: target_core" in gen


GLOSSARY_TASK = """\
name: acr
family: terminology
mode: terms
normalize: {{case: true, whitespace: true, punctuation: {punct}}}
data:
  columns: {{id: id, input: text, target: target}}
  files: {{test: d.jsonl}}
glossary:
  - term: Proof of Delivery
    forbidden: [proof-of-delivery]
"""


@pytest.mark.parametrize(("punct", "refused"), [(True, True), (False, False)])
def test_glossary_checks_compare_as_the_scorers_do(tmp_path: Path, punct: bool,
                                                   refused: bool) -> None:
    # With punctuation: true the scorers read "proof-of-delivery" as "proof of delivery",
    # the preferred term itself, so forbidden_term_rate could never flag it; the check
    # (lower-case and whitespace only) let it through. Without it they differ.
    (tmp_path / "d.jsonl").write_text(
        '{"id": "a", "text": "x", "target": "Proof of Delivery attached"}\n')
    (tmp_path / "t.yaml").write_text(GLOSSARY_TASK.format(punct=str(punct).lower()))
    if not refused:
        load_task(tmp_path / "t.yaml")
        return
    with pytest.raises(UsageError) as err:
        load_task(tmp_path / "t.yaml")
    assert err.value.line == 9
    assert err.value.message == "glossary entry 'Proof of Delivery' forbids its own preferred form"
