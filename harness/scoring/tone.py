"""Tone: style accuracy, content preservation, fluency and their joint score.

Per example (the output is the rewrite, the input its source):

- ``style_accuracy``: the task's TF-IDF + logistic-regression classifier
  puts the output in the target style (its held-out accuracy is in the
  detail, so a report can say how far to trust it).
- ``similarity_source`` / ``similarity_reference``: MiniLM cosine to the
  source, and the best over the references.
- ``chrf_source`` / ``chrf_reference``: sacrebleu chrF (0..1) to the source
  and to all references.
- ``fluency``: the offline proxy of :mod:`harness.scoring.style`.
- ``joint``: style x similarity to the source x fluency per example, as
  the ParaDetox evaluation computes J; the components are in the detail.
- ``judge_rubric``: the LLM judge's rating rescaled to 0..1, when the task
  has a judge; an invalid judge answer is unscored *and flagged*, and the
  analysis counts it.

An empty (unparseable) output scores 0 on everything.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from harness.memo import Memo
from harness.scoring.base import Output, Score, task_scorer
from harness.scoring.style import (
    FLUENCY_PROXY,
    StyleModels,
    cosine,
    embed_many,
    looping,
    new_embeddings,
    train_style_models,
)
from harness.tasks import Example, Task, ToneTask


def _spec(task: Task) -> ToneTask:
    assert isinstance(task.spec, ToneTask)
    return task.spec


def style_models(task: Task) -> StyleModels:
    """The task's style classifier and fluency model (trained once per loaded task)."""
    st = _spec(task).style
    return cast(StyleModels, task.memo.get_or_make("style_models", lambda: train_style_models(
        task.resources["style_examples"], st.target, st.heldout, st.seed, st.max_per_style)))


def _embeddings(task: Task) -> Memo[str, np.ndarray]:
    """The task's embedding cache (kept as long as the loaded task)."""
    return cast("Memo[str, np.ndarray]", task.memo.get_or_make("embeddings", new_embeddings))


def references(task: Task, example: Example) -> list[str]:
    """The example's references: its target plus any non-empty reference columns."""
    refs = [example.target]
    for col in _spec(task).data.columns.references:
        value = example.fields.get(col)
        if value is not None and str(value).strip() and str(value) not in refs:
            refs.append(str(value))
    return refs


def _empty(output: Output) -> Score | None:
    if output.prediction is None or not output.prediction.strip():
        return Score(0.0, f"empty or unparseable output: {output.text[:40]!r}",
                     {"parsed": False})
    return None


def _embed_once(task: Task, example: Example, text: str) -> None:
    """Embed the output, source and references in one batch (later cosines hit the cache)."""
    embed_many([text, example.input, *references(task, example)], _embeddings(task),
               task.encoder)


def _chrf(hyp: str, refs: list[str]) -> float:
    from sacrebleu.metrics.chrf import CHRF

    return float(CHRF().sentence_score(hyp, refs).score) / 100.0


def _style(task: Task, text: str) -> tuple[float, dict[str, Any]]:
    models = style_models(task)
    prob = models.target_probability(text)
    return (1.0 if prob >= 0.5 else 0.0), {"p_target": round(prob, 4),
                                           "classifier": models.facts()}


def _fluency(task: Task, text: str) -> tuple[float, dict[str, Any]]:
    models = style_models(task)
    bits = models.lm.bits_per_char(text)
    loops = looping(text)
    ok = bits <= models.fluency_threshold and not loops
    return (1.0 if ok else 0.0), {"bits_per_char": round(bits, 3),
                                  "threshold": round(models.fluency_threshold, 3),
                                  "looping": loops, "proxy": FLUENCY_PROXY}


@task_scorer("style_accuracy", family="tone", args=("style",))
def style_accuracy(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the style classifier puts the output in the target style."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    value, detail = _style(task, output.prediction)
    acc = detail["classifier"]["heldout_accuracy"]
    verdict = "in" if value else "not in"
    return Score(value, f"{verdict} the target style (p={detail['p_target']:.2f}; "
                 f"classifier held-out accuracy {acc:.2f})", detail)


@task_scorer("similarity_source", family="tone", kind="continuous")
def similarity_source(example: Example, output: Output, task: Task) -> Score:
    """MiniLM cosine similarity of the output to its source (content kept)."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    _embed_once(task, example, output.prediction)
    sim = cosine(output.prediction, example.input, _embeddings(task), task.encoder)
    return Score(sim, f"cosine to the source {sim:.2f}")


@task_scorer("similarity_reference", family="tone", kind="continuous",
             args=("data.columns.references",))
def similarity_reference(example: Example, output: Output, task: Task) -> Score:
    """The best MiniLM cosine similarity of the output to a reference."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    refs = references(task, example)
    _embed_once(task, example, output.prediction)
    sims = [cosine(output.prediction, r, _embeddings(task), task.encoder) for r in refs]
    return Score(max(sims), f"best cosine to {len(refs)} reference(s) {max(sims):.2f}",
                 {"per_reference": [round(s, 4) for s in sims]})


@task_scorer("chrf_source", family="tone", kind="continuous")
def chrf_source(example: Example, output: Output, task: Task) -> Score:
    """The chrF (0..1) of the output against its source."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    value = _chrf(output.prediction, [example.input])
    return Score(value, f"chrF to the source {100 * value:.1f}")


@task_scorer("chrf_reference", family="tone", kind="continuous",
             args=("data.columns.references",))
def chrf_reference(example: Example, output: Output, task: Task) -> Score:
    """The chrF (0..1) of the output against all references."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    refs = references(task, example)
    value = _chrf(output.prediction, refs)
    return Score(value, f"chrF to {len(refs)} reference(s) {100 * value:.1f}")


@task_scorer("fluency", family="tone", args=("style",))
def fluency(example: Example, output: Output, task: Task) -> Score:
    """1.0 when the output passes the offline fluency proxy."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    value, detail = _fluency(task, output.prediction)
    why = "fluent" if value else ("looping repetition" if detail["looping"] else
                                  "unusual text for this task")
    return Score(value, f"{why} ({detail['bits_per_char']} bits/char, threshold "
                 f"{detail['threshold']})", detail)


@task_scorer("joint", family="tone", kind="continuous", args=("style",))
def joint(example: Example, output: Output, task: Task) -> Score:
    """Style x similarity to the source x fluency (ParaDetox's J), per example."""
    if (bad := _empty(output)) is not None:
        return bad
    assert output.prediction is not None
    sta, _ = _style(task, output.prediction)
    _embed_once(task, example, output.prediction)
    sim = cosine(output.prediction, example.input, _embeddings(task), task.encoder)
    fl, _ = _fluency(task, output.prediction)
    value = sta * sim * fl
    return Score(value, f"J = style {sta:.0f} x similarity {sim:.2f} x fluency {fl:.0f} = "
                 f"{value:.2f}", {"style": sta, "similarity": sim, "fluency": fl})


def _has_judge(task: Task) -> bool:
    return _spec(task).judge is not None


@task_scorer("judge_rubric", family="tone", kind="continuous", applies=_has_judge,
             requires="a 'judge'", args=("judge",))
def judge_rubric(example: Example, output: Output, task: Task) -> Score:
    """The judge's rating rescaled to 0..1; an invalid answer is flagged and counted."""
    verdict = output.detail.get("judge")
    if not isinstance(verdict, dict):
        return Score.unscored("the judge was not asked for this output")
    if verdict.get("invalid"):
        return Score(float("nan"), f"invalid judge answer {str(verdict.get('raw'))[:40]!r} "
                     "(counted, not scored)", {"invalid": True})
    rating, scale = int(verdict["rating"]), int(verdict["scale"])
    return Score((rating - 1) / (scale - 1), f"judge rated {rating}/{scale}",
                 {"invalid": False, "rating": rating})
