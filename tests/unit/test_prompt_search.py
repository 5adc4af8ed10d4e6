"""Prompt search: expansion, the halving schedule, the run on dev, and the report's numbers."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.analysis.search import honesty_notes, prompting_share
from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.errors import UsageError
from harness.estimate import estimate
from harness.report.writer import write_report
from harness.runner import Runner
from harness.variants.search import Round, round_requests, schedule
from tests.unit.conftest import DEV, RUN_YAML

FEW_SHOT = ("{% for s in shots %}Message: {{ s.input }}\nAnswer: {{ s.target }}\n{% endfor %}"
            "Message: {{ input }}\nAnswer:")

SEARCH = """prompt_search:
  variants: [fs]
  axes:
    shots: [0, 4, 6]
    calibrate: [false, true]
  budget: {dev_requests: BUDGET}
  min_examples: 2
"""


@pytest.fixture
def searched(project):
    """The toy project with 12 dev examples, a few-shot variant and a 6-candidate search."""
    project.split("dev", DEV * 3, "dv")
    project.write("fs.j2", FEW_SHOT)
    project.write("fs.yaml", "name: fs\ntemplate: fs.j2\nshots: 2\n")

    def write(budget: int = 40, extra: str = "") -> object:
        project.write("run.yaml", RUN_YAML.replace("  - echo.yaml\n",
                                                   "  - echo.yaml\n  - fs.yaml\n")
                      + SEARCH.replace("BUDGET", str(budget)) + extra)
        return project
    return write


# -- the schedule --------------------------------------------------------------------

def test_schedule_is_a_grid_when_everything_fits():
    # 6 candidates x 12 dev examples = 72 requests <= 100: one round, all of dev.
    assert schedule(6, 12, 100) == (Round(6, 12),)
    assert schedule(6, 12, None) == (Round(6, 12),)


def test_schedule_halves_by_hand():
    # n=8, D=40, B=240, eta=2: R = ceil(log2 8) = 3 rounds with B/R = 80 requests each:
    # round 1: 8 candidates x floor(80/8)=10; round 2: 4 x 20; round 3: 2 x 40 (capped at D).
    rounds = schedule(8, 40, 240, eta=2, min_examples=8)
    assert rounds == (Round(8, 10), Round(4, 20), Round(2, 40))
    # Nested prefixes are cached: 8*10 + 4*(20-10) + 2*(40-20) = 80 + 40 + 40 = 160.
    assert round_requests(rounds) == 160


def test_schedule_refuses_a_budget_too_small_and_says_how_much():
    # B=120: round 1 would give 8 candidates floor(120/(3*8)) = 5 examples < 8; the smallest
    # budget giving 8 is 3 rounds x 8 candidates x 8 examples = 192.
    with pytest.raises(ValueError, match=r"only 5 dev examples.*raise budget.dev_requests to 192"):
        schedule(8, 40, 120, eta=2, min_examples=8)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 200), budget=st.integers(1, 20_000),
       eta=st.integers(2, 4), samples=st.integers(1, 3))
def test_schedule_never_exceeds_its_budget(n, d, budget, eta, samples):
    try:
        rounds = schedule(n, d, budget, eta=eta, min_examples=1, per_example=samples)
    except ValueError:
        return
    assert round_requests(rounds, samples) <= max(budget, n * d * samples if len(rounds) == 1
                                                   and n * d * samples <= budget else budget)
    counts = [r.candidates for r in rounds]
    assert counts == sorted(counts, reverse=True) and rounds[-1].candidates <= max(eta, 1) \
        or len(rounds) == 1
    assert all(1 <= r.examples <= d for r in rounds)
    assert [r.examples for r in rounds] == sorted(r.examples for r in rounds)


# -- expansion and bad input ---------------------------------------------------------

def test_candidates_are_named_and_deduplicated(searched):
    cfg = load_config(searched().config)
    assert [c.variant.name for c in cfg.candidates] == [
        "fs__k0_caloff", "fs__k0_calon", "fs__k4_caloff", "fs__k4_calon", "fs__k6_caloff",
        "fs__k6_calon"]
    assert cfg.candidates[2].settings == {"shots": 4, "calibrate": False}
    assert cfg.candidates[2].variant.spec.shots == 4


def test_a_selection_without_shots_is_one_candidate(searched, edit):
    proj = searched()
    edit(proj.config, "    calibrate: [false, true]\n",
         "    shot_selection: [stratified, random]\n")
    names = [c.variant.name for c in load_config(proj.config).candidates]
    # shots 0 x {stratified, random} prompt identically: one candidate, not two.
    assert names == ["fs__k0_stratified", "fs__k4_stratified", "fs__k4_random",
                     "fs__k6_stratified", "fs__k6_random"]


@pytest.mark.parametrize(("old", "new", "line", "message"), [
    ("shots: [0, 4, 6]", "shot_selection: [stratified, nearest]", 15,
     "prompt_search.axes.shot_selection: 'nearest' is not valid"),
    ("{dev_requests: 40}", "{dev_requests: 0}", 17,
     "prompt_search.budget.dev_requests: Input should be greater than or equal to 1"),
    ("{dev_requests: 40}", "{dev_requests: -3}", 17,
     "prompt_search.budget.dev_requests: Input should be greater than or equal to 1"),
    ("{dev_requests: 40}", "{}", 17, "a budget needs at least one of"),
    ("shots: [0, 4, 6]", "shots: [0, 20]", 15,
     "prompt_search.axes.shots: 20 shots, but task 'toy' has 8 train examples"),
    ("shots: [0, 4, 6]", "template: [x.j2]", 14, "'template' is not a prompt option"),
    ("[fs]", "[lora]", 13, "'lora' is not a prompt variant of this config"),
    ("{dev_requests: 40}", "{dev_requests: 5}", 17, "raise budget.dev_requests to"),
])
def test_bad_search_input_is_one_line_with_its_line(searched, edit, old, new, line, message):
    proj = searched()
    edit(proj.config, old, new)
    with pytest.raises(UsageError) as err:
        load_config(proj.config)
    assert message in err.value.message
    assert (err.value.path, err.value.line) == (str(proj.config), line)


def test_a_search_needs_dev(searched, edit):
    proj = searched(extra="splits: [test]\n")
    with pytest.raises(UsageError, match="needs the dev split"):
        load_config(proj.config)


# -- running it ----------------------------------------------------------------------


def _counts(store, run_id):
    return Counter((r.variant, r.split) for r in store.records(run_id))


def test_search_runs_on_dev_only_and_the_winner_on_test(searched, store):
    cfg = load_config(searched().config)
    result = Runner(cfg, store, BackendOptions()).run()
    counts = _counts(store, result.run_id)
    record = store.searches(result.run_id)[("toy", "fake:keyword")]
    winner = record["winner"]
    # Budget 40, 6 candidates, 12 dev: R = ceil(log2 6) = 3 rounds of 40 // 3 = 13 requests:
    # round 1: 6 x floor(13/6)=2, round 2: 3 x floor(13/3)=4, round 3: 2 x floor(13/2)=6.
    assert [(r["candidates"], r["examples"]) for r in record["rounds"]] == [(6, 2), (3, 4), (2, 6)]
    assert winner == record["rounds"][-1]["ranking"][0]["name"]
    for c in cfg.candidates:
        name = c.variant.name
        assert counts[(name, "test")] == (6 if name == winner else 0)
    # The winner also runs the whole dev split (the baseline is chosen on all of dev).
    assert counts[(winner, "dev")] == 12
    eliminated = [r["name"] for r in record["rounds"][0]["ranking"][3:]]
    assert all(counts[(n, "dev")] == 2 for n in eliminated)


def test_rerun_is_cached_and_a_bigger_budget_only_adds(searched, store):
    proj = searched()
    first = Runner(load_config(proj.config), store, BackendOptions()).run()
    again = Runner(load_config(proj.config), store, BackendOptions()).run()
    assert again.model_calls == 0 and again.cache_hits > 0
    r1 = store.searches(first.run_id)[("toy", "fake:keyword")]
    r2 = store.searches(again.run_id)[("toy", "fake:keyword")]
    assert (r1["winner"], r1["rounds"], r1["requests"]) == (r2["winner"], r2["rounds"],
                                                           r2["requests"])
    searched(budget=72)  # 6 x 12 = 72: the whole grid
    grid = Runner(load_config(proj.config), store, BackendOptions()).run()
    assert [(r["candidates"], r["examples"]) for r in
            store.searches(grid.run_id)[("toy", "fake:keyword")]["rounds"]] == [(6, 12)]
    # The 22 requests of the halving search are cached: only the other 72 - 22 = 50 dev
    # requests of the grid are new (fewer still where two prompts coincide).
    assert 0 < grid.model_calls <= 50


def test_estimate_counts_the_search(searched, store):
    cfg = load_config(searched().config)
    rows = {r.variant: r for r in estimate(cfg, store)}
    # Round 1: every candidate on 2 dev examples (+3 content-free prompts when calibrated).
    assert rows["fs__k4_caloff"].requests == 2 and rows["fs__k4_calon"].requests == 5
    # Later rounds: 6*2 + 3*(4-2) + 2*(6-4) = 22 in all, 12 of them in round 1: 10 more.
    assert rows["(search: later rounds)"].requests == 10
    # The winner: the 12 - 6 dev examples it has not seen plus 6 test examples.
    assert rows["(search: winner)"].requests == 12


def test_report_shows_the_leaderboard_and_the_winners_test_score(searched, store, tmp_path):
    cfg = load_config(searched().config)
    result = Runner(cfg, store, BackendOptions()).run()
    out = write_report(store, result.run_id, tmp_path / "reports")
    res = json.loads((out / "results.json").read_text())
    task = res["tasks"][0]
    search = task["search"]
    names = {r["name"] for r in search["rows"]}
    assert {c.variant.name for c in cfg.candidates} <= names and {"echo", "fs"} <= names
    winner = search["winner"]
    by_variant = {v["name"]: v for v in task["variants"]}
    assert search["winner_test_score"] == by_variant[winner]["score"]
    # Only prompts that ran on test are in the variants table.
    assert set(by_variant) == {"echo", "fs", winner}
    md = (out / "report.md").read_text()
    assert "Prompt search on dev" in md and "candidates tried per task: toy 6" in md
    assert any("fewer than about 40" in n for n in task["selection_notes"])


# -- the numbers -----------------------------------------------------------------------

def test_prompting_share_by_hand():
    ids = [f"e{i}" for i in range(4)]
    floor = dict.fromkeys(ids, 0.0)
    best = dict(zip(ids, [1.0, 1.0, 0.0, 0.0], strict=True))
    tuned = dict.fromkeys(ids, 1.0)
    # (0.5 - 0) / (1 - 0) = 0.5: prompting gets half of the fine-tune's gain.
    s = prompting_share(floor, best, tuned, np.random.default_rng(0), 2000, 0.95)
    assert s["estimate"] == pytest.approx(0.5) and s["n"] == 4
    assert 0.0 <= s["ci_low"] <= 0.5 <= s["ci_high"] <= 1.0


def test_prompting_share_is_undefined_without_a_fine_tune_gain():
    ids = ["a", "b", "c"]
    s = prompting_share(dict.fromkeys(ids, 1.0), dict.fromkeys(ids, 1.0),
                        dict.fromkeys(ids, 0.0), np.random.default_rng(0), 500, 0.95)
    assert s["estimate"] is None and "does not beat the floor" in s["note"]


def test_honesty_notes():
    dev = {"a": {f"e{i}": 1.0 for i in range(10)}, "b": {f"e{i}": 1.0 for i in range(10)}}
    notes = honesty_notes("a", ["a", "b"], dev, np.random.default_rng(0), 500, 0.95)
    assert "chosen on 10 dev examples" in notes[0]
    assert "score the same on every one of 10 shared dev examples" in notes[1]
    big = {"a": {f"e{i}": float(i % 2) for i in range(60)},
           "b": {f"e{i}": float(i % 3 == 0) for i in range(60)}}
    notes = honesty_notes("a", ["a", "b"], big, np.random.default_rng(0), 500, 0.95)
    assert len(notes) == 1 and "within noise" in notes[0]
