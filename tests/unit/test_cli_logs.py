"""The log without a terminal, and other libraries kept quiet (``main(argv)``, fake backend)."""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

import pytest

from harness import runner as runner_mod
from harness.backends.base import BackendOptions
from harness.backends.fake import FakeBackend
from harness.cli import main
from harness.commands.feedback import Feedback, duration
from harness.commands.logs import Logs
from harness.config import load_config
from harness.progress import RunListener, Step
from harness.quiet import BAR_SWITCHES, adopt_transformers_logging
from harness.runner import Runner
from harness.store import Store
from harness.variants.lora import ResolvedAdapter


def _run(project, tmp_path, *extra: str) -> int:
    return main([*extra, "run", str(project.config), "--store", str(tmp_path / "st"),
                 "--reports", str(tmp_path / "rep")])


def _log(tmp_path: Path) -> str:
    (path,) = (tmp_path / "st" / "logs").glob("*.log")
    return path.read_text()


@pytest.fixture
def noisy(monkeypatch):
    """The fake model warns like transformers does, and notes the bar switches it sees."""
    seen: list[dict[str, str | None]] = []
    score = FakeBackend.score

    def noisy_score(self, request):
        warnings.warn("`torch_dtype` is deprecated! Use `dtype` instead!", FutureWarning,
                      stacklevel=1)
        logging.getLogger("transformers.modeling_utils").warning("Some weights were not used")
        seen.append({k: os.environ.get(k) for k in BAR_SWITCHES})
        return score(self, request)

    monkeypatch.setattr(FakeBackend, "score", noisy_score)
    for key in BAR_SWITCHES:
        monkeypatch.delenv(key, raising=False)
    return seen


def test_other_libraries_go_to_the_log_file_not_the_terminal(project, tmp_path, capsys, noisy):
    assert _run(project, tmp_path) == 0
    out, err = capsys.readouterr()
    for text in ("torch_dtype", "Some weights were not used"):
        assert text not in out + err
    log = _log(tmp_path)
    assert "WARNING py.warnings:" in log and "FutureWarning: `torch_dtype` is deprecated" in log
    assert "WARNING transformers.modeling_utils: Some weights were not used" in log
    # Bars off while the command ran (tqdm, Hub, transformers), the environment restored after.
    assert noisy and all(s == BAR_SWITCHES for s in noisy)
    assert all(k not in os.environ for k in BAR_SWITCHES)


def test_verbose_shows_them_on_the_terminal(project, tmp_path, capsys, noisy):
    assert _run(project, tmp_path, "-v") == 0
    err = capsys.readouterr().err
    assert "FutureWarning: `torch_dtype` is deprecated" in err
    assert "transformers.modeling_utils: Some weights were not used" in err
    assert noisy and all(s == dict.fromkeys(BAR_SWITCHES) for s in noisy)  # bars left on


def test_a_users_own_switch_wins(project, tmp_path, noisy, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "")
    assert _run(project, tmp_path) == 0
    assert noisy[0]["TQDM_DISABLE"] == "" and os.environ["TQDM_DISABLE"] == ""


def test_our_warnings_still_reach_the_terminal(project, tmp_path, capsys, monkeypatch):
    def warn_then_score(self, request, _score=FakeBackend.score):
        logging.getLogger("harness.backends.fake").warning("server is slow")
        return _score(self, request)

    monkeypatch.setattr(FakeBackend, "score", warn_then_score)
    assert _run(project, tmp_path) == 0
    assert "WARNING harness.backends.fake: server is slow" in capsys.readouterr().err


def test_transformers_messages_propagate_to_our_handlers(caplog):
    pytest.importorskip("transformers")
    from transformers.utils import logging as hf_logging

    adopt_transformers_logging()
    root = hf_logging.get_logger()  # the library's root logger, "transformers"
    default = hf_logging._default_handler  # its own handler on stderr
    assert root.propagate and default is not None and default not in root.handlers
    with caplog.at_level(logging.WARNING):
        hf_logging.get_logger("transformers.x").warning("adopted")
    assert ("transformers.x", logging.WARNING, "adopted") in caplog.record_tuples


def test_training_lines_reach_a_log_without_a_terminal(project, tmp_path, capsys, monkeypatch):
    def trained(task, variant, model, store_root, progress=None):
        for line in ("training LoRA r=8 on 8 examples (cpu, bf16 base)",
                     "epoch 1/2: train loss 1.2000 (0.5 s)", "epoch 2/2: train loss 0.8000 "
                     "(0.5 s)", "adapter written: /x/adapters/toy (3 s)"):
            progress(line)
        return ResolvedAdapter(model, None)

    monkeypatch.setattr(runner_mod, "resolve_adapter", trained)
    assert _run(project, tmp_path) == 0
    err = capsys.readouterr().err
    stamp = r"\d\d:\d\d:\d\d "
    for line in ("train toy/echo: epoch 1/2: train loss 1.2000 (0.5 s)",
                 "train toy/echo: adapter written: /x/adapters/toy (3 s)"):
        assert re.search(stamp + re.escape(line), err), err
        assert line in _log(tmp_path)


class Recorder(RunListener):
    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def run_started(self, run_id, total, done, resumed):
        self.events.append(("run", total, done, resumed))

    def step_started(self, step, examples):
        self.events.append(("start", str(step), examples))

    def step_finished(self, step, examples, errors, seconds):
        assert seconds >= 0
        self.events.append(("done", str(step), examples, errors))


def test_runner_reports_each_step_start_and_end(project, tmp_path):
    rec = Recorder()
    store = Store(tmp_path / "st")
    try:
        Runner(load_config(project.config), store, BackendOptions(), progress=rec).run()
    finally:
        store.close()
    step = "toy / echo / fake:keyword"
    # The toy task: 4 dev and 6 test examples; the two splits overlap in flight.
    assert rec.events[0] == ("run", 10, 0, False)
    assert sorted(rec.events[1:]) == sorted([
        ("start", f"{step} / dev", 4), ("start", f"{step} / test", 6),
        ("done", f"{step} / dev", 4, 0), ("done", f"{step} / test", 6, 0)])
    assert rec.events.index(("start", f"{step} / dev", 4)) < rec.events.index(
        ("done", f"{step} / dev", 4, 0))


def test_errors_are_counted_per_step(project, edit, tmp_path):
    edit(project.config, "  - fake:keyword\n", "  - fake:flaky\nmax_retries: 0\n")
    rec = Recorder()
    store = Store(tmp_path / "st")
    try:
        result = Runner(load_config(project.config), store, BackendOptions(),
                        progress=rec).run()
    finally:
        store.close()
    errors = sum(e[3] for e in rec.events if e[0] == "done")
    assert result.errors > 0 and errors == result.errors


def test_heartbeat_at_most_every_30_seconds_with_an_eta(caplog):
    now = [0.0]
    logs = Logs(verbose=False, terminal=False)
    fb = Feedback(logs, None, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="harness.progress"):
        fb.run_started("r1", 100, 0, False)
        for t, done in ((10, 1), (29.9, 9), (30, 10), (45, 11), (59.9, 19), (61, 20)):
            now[0] = t
            fb.example_done(done, 100, "toy/echo")
    beats = [m for m in caplog.messages if m.startswith("progress:")]
    # t=30: 10 done in 30 s, 90 left at 1/3 per second: 270 s. t=61 (31 s after the last
    # beat): 20 in 61 s, 80 left: 80 * 61 / 20 = 244 s. Nothing in between.
    assert beats == ["progress: 10/100 examples (10%), 30 s elapsed, about 4 min 30 s left",
                     "progress: 20/100 examples (20%), 1 min 01 s elapsed, about 4 min 04 s "
                     "left"]


def test_resumed_run_eta_counts_only_this_sessions_work(caplog):
    now = [0.0]
    fb = Feedback(Logs(verbose=False, terminal=False), None, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="harness.progress"):
        fb.run_started("r1", 100, 50, True)
        now[0] = 40.0
        fb.example_done(60, 100, "toy/echo")
    # 10 examples in 40 s this session; 40 left: 160 s (not 40 * 40 / 60).
    assert caplog.messages[-1] == ("progress: 60/100 examples (60%), 40 s elapsed, "
                                   "about 2 min 40 s left")
    assert caplog.messages[0] == "resuming run r1: 100 examples, 50 already stored"


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (59.4, "59 s"), (60, "1 min 00 s"),
                                           (3599, "59 min 59 s"), (3600, "1 h 00 min"),
                                           (-5, "0 s")])
def test_duration(seconds, text):
    assert duration(seconds) == text


def test_step_prints_like_a_path():
    assert str(Step("t", "v", "fake:keyword", "dev")) == "t / v / fake:keyword / dev"


def test_no_third_party_debug_in_the_log_even_under_a_callers_debug(project, tmp_path,
                                                                    caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)  # a caller (here: the test) asked for everything

    def chatty_score(self, request, _score=FakeBackend.score):
        logging.getLogger("httpcore.http11").debug("send_request_headers: Bearer sk-SECRET")
        logging.getLogger("harness.backends.fake").debug("our own detail")
        return _score(self, request)

    monkeypatch.setattr(FakeBackend, "score", chatty_score)
    assert _run(project, tmp_path) == 0
    log = _log(tmp_path)
    assert "sk-SECRET" not in log  # HTTP clients' debug lines carry raw headers
    assert "DEBUG harness.backends.fake: our own detail" in log  # ours always go there
    assert logging.getLogger().level == logging.DEBUG  # the caller's level, restored


def test_compare_base_ends_with_the_table_and_headline(tmp_path, capsys, monkeypatch):
    from harness import compare_base as cb
    from tests.unit import resultskit as kit

    report = tmp_path / "rep" / "r1"
    report.mkdir(parents=True)
    # A whole results.json (the command reads it back through RunResults).
    (report / "results.json").write_text(kit.results({"confidence": 0.95, "tasks": [{
        "task": "codes", "variants": [{"name": "ft@embedded", "score": 0.8},
                                      {"name": "p@embedded:q8_0", "score": 0.4}],
        "comparisons": [{"candidate": "ft@embedded", "delta": 0.4, "ci_low": 0.2,
                         "ci_high": 0.6}]}]}).to_json())
    decision = cb.BaseDecision("codes", cb.RETRAIN, "prompting the new base does not match",
                               "ft@embedded", "p@embedded:q8_0", None)

    def fake(config, old, new, **kw):
        kw["progress"].run_started("r1", 10, 0, False)
        return cb.CompareBaseResult("r1", report, [decision], None)

    monkeypatch.setattr(cb, "compare_base", fake)
    assert main(["compare-base", "x.yaml", "--old", "embedded", "--new", "embedded:q8_0",
                 "--store", str(tmp_path / "st"), "--reports", str(tmp_path / "rep")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "codes: RETRAIN: prompting the new base does not match"
    # old adapter 80.0 against the new base's prompt 40.0: +40.0 points [+20.0, +60.0].
    (row,) = [x for x in lines if x.startswith("codes ")]
    assert row.split("  ")[0] == "codes" and "p@embedded:q8_0 40.0 (best on dev)" in row
    assert "ft@embedded 80.0" in row and "+40.0 [+20.0, +60.0]" in row and "RETRAIN" in row
    assert "RETRAIN" in lines and f"summary: {report / 'compare_base.md'}" in lines
    assert f"log:     {tmp_path / 'st' / 'logs' / 'r1.log'}" in lines
