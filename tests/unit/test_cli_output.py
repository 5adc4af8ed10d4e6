"""What the three users see, through the real CLI in a subprocess (fake backend).

A nightly job's pipe or file, a CI step's ``| head`` or ``| tee``, a terminal
(a pseudo-terminal here: wide, narrow, with and without ``NO_COLOR``), and a
log directory that cannot be written. In every case: the answer arrives (or
the output ends quietly), no traceback, results kept, exit codes unchanged.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import json
import os
import pty
import re
import struct
import subprocess
import termios
from pathlib import Path

import pytest
from mixedkit import GATE_LINE, HEADLINE, ROOT, results, start, write_mixed

from harness.cli import EXAMPLES

SGR_COLOR = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;[0-9;]+)m")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return write_mixed(tmp_path)


def _args(cmd: str, cfg: Path) -> list[str]:
    return [cmd, cfg.name, "--store", "st", "--reports", "rep"]


def test_run_through_a_pipe_ends_with_the_answer(mixed: Path) -> None:
    # `tunegate run mixed.yaml 2>&1 | cat`: both streams into one pipe.
    proc = start(_args("run", mixed), mixed.parent, stderr=subprocess.STDOUT)
    out = proc.communicate(timeout=300)[0].decode()
    assert proc.returncode == 0, out
    lines = out.splitlines()
    run_dir = next((mixed.parent / "rep").iterdir())
    # The table: one row per task, then the headline and the gate's rule, then the paths.
    (alpha,) = [x for x in lines if x.startswith("alpha_route ")]
    (beta,) = [x for x in lines if x.startswith("beta_route ")]
    # alpha: blind answers one label for all 30 (50.0); echo names the gold (100.0).
    for cell in ("blind 50.0 (best on dev)", "echo 100.0", "+50.0 [", "FINE-TUNE JUSTIFIED",
                 "no prices"):
        assert cell in alpha, (cell, alpha)
    # beta: echo names the wrong label on every test example: 0.0, gain -50 points.
    for cell in ("blind 50.0 (best on dev)", "echo 0.0", "-50.0 [",
                 "NOT JUSTIFIED: gain too small"):
        assert cell in beta, (cell, beta)
    assert lines.index(HEADLINE) == lines.index(GATE_LINE) - 1 > lines.index(beta)
    tail = lines[lines.index(GATE_LINE) + 1:]
    assert tail[:3] == [f"report: rep/{run_dir.name}/index.html",
                        f"        rep/{run_dir.name}/report.md",
                        f"        rep/{run_dir.name}/results.json"]
    assert tail[3] == f"log:    st/logs/{run_dir.name}.log"
    # Without a terminal the progress bar is replaced by one line per step start and end.
    stamp = r"\d\d:\d\d:\d\d "
    assert re.search(stamp + r"start alpha_route / echo / fake:keyword / test: 30 examples", out)
    assert re.search(stamp + r"done  beta_route / blind / fake:keyword / dev: 12 examples, "
                     r"0 errors, \d+\.\d s", out)
    log = (mixed.parent / "st" / "logs" / f"{run_dir.name}.log").read_text()
    assert f"starting run {run_dir.name}: 168 examples, 0 already stored" in log  # 2x2x(12+30)
    assert log.count(" start ") == log.count(" done  ") == 8  # 2 tasks x 2 variants x 2 splits


def test_gate_says_mixed_and_keeps_its_exit_code(mixed: Path) -> None:
    proc = start(_args("gate", mixed), mixed.parent)
    out, err = (x.decode() for x in proc.communicate(timeout=300))
    assert proc.returncode == 1, out + err  # one task fails: the gate's rule is unchanged
    assert f"\n{HEADLINE}\n{GATE_LINE}\n" in out
    run_dir = next((mixed.parent / "rep").iterdir())
    assert f"junit:   rep/{run_dir.name}/junit.xml" in out
    summary = (run_dir / "summary.md").read_text()
    assert summary.startswith(f"## tunegate gate: {HEADLINE}\n\n**G{GATE_LINE[1:]}.**\n")
    report = (run_dir / "report.md").read_text()
    assert f"**Verdict: {HEADLINE}.**" in report and f"G{GATE_LINE[1:]}." in report
    page = (run_dir / "index.html").read_text()
    assert f'<div class="label">{HEADLINE}</div><p class="gate">G{GATE_LINE[1:]}.</p>' in page
    assert results(mixed.parent / "rep")["verdict"]["label"] == "NOT JUSTIFIED: gain too small"


@pytest.mark.parametrize("cmd, code", [("run", 0), ("gate", 1)])
def test_closed_stdout_ends_quietly_with_the_same_code(mixed: Path, cmd: str, code: int) -> None:
    # `tunegate run ... | head -0`: the reader is gone before the first line.
    proc = start(_args(cmd, mixed), mixed.parent)
    assert proc.stdout is not None
    proc.stdout.close()
    err = proc.communicate(timeout=300)[1].decode()
    assert proc.returncode == code, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert results(mixed.parent / "rep")["verdict"]["headline"] == HEADLINE  # results kept


def test_closed_stdout_on_help(tmp_path: Path) -> None:
    proc = start(["--help"], tmp_path)
    assert proc.stdout is not None
    proc.stdout.close()
    err = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 0 and err == ""


def test_unwritable_log_directory_costs_one_line(mixed: Path) -> None:
    (mixed.parent / "st").mkdir()
    (mixed.parent / "st" / "logs").write_text("a file where the log directory should be")
    proc = start(_args("gate", mixed), mixed.parent)
    out, err = (x.decode() for x in proc.communicate(timeout=300))
    assert proc.returncode == 1, out + err  # the gate's own code, not a usage error
    assert "Traceback" not in out + err
    (warning,) = [x for x in err.splitlines() if "cannot write the run's log" in x]
    assert warning.startswith(str(Path("st") / "logs") + "/") and "the run goes on" in warning
    assert f"\n{HEADLINE}\n" in out and "\nlog:" not in out
    assert results(mixed.parent / "rep")["verdict"]["headline"] == HEADLINE


def _in_terminal(args: list[str], cwd: Path, columns: int, **env: str) -> tuple[int, str, str]:
    """Run with standard output on a pseudo-terminal ``columns`` wide (stderr: a pipe)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = start(args, cwd, {"TERM": "xterm-256color", **env}, stdout=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    err = proc.communicate(timeout=300)[1].decode()
    return proc.returncode, b"".join(chunks).decode(), err


def test_wide_terminal_gets_a_coloured_table(mixed: Path) -> None:
    code, screen, err = _in_terminal(_args("gate", mixed), mixed.parent, 140)
    assert code == 1, screen + err
    text = ANSI.sub("", screen)
    assert re.search(r"task +baseline \(how chosen\) +candidate", text)  # the table's header
    assert SGR_COLOR.search(screen), "a terminal without NO_COLOR gets colour"
    assert HEADLINE in text.replace("\r\n", " ").replace("  ", " ")


def test_no_color_is_respected(mixed: Path) -> None:
    code, screen, err = _in_terminal(_args("gate", mixed), mixed.parent, 140, NO_COLOR="1")
    assert code == 1, screen + err
    assert not SGR_COLOR.search(screen), repr(screen[:400])
    assert re.search(r"task +baseline \(how chosen\) +candidate", ANSI.sub("", screen))
    assert f"\r\n{HEADLINE}\r\n{GATE_LINE}\r\n" in screen


def test_narrow_terminal_gets_one_block_per_task(mixed: Path) -> None:
    code, screen, err = _in_terminal(_args("gate", mixed), mixed.parent, 40, NO_COLOR="1")
    assert code == 1, screen + err
    lines = ANSI.sub("", screen).split("\r\n")
    block = lines[lines.index("beta_route"):lines.index("beta_route") + 6]
    assert block == ["beta_route", "  baseline (how chosen): blind 50.0 (best on dev)",
                     "  candidate: echo 0.0", block[3], "  verdict: NOT JUSTIFIED: gain too small",
                     "  payback: no prices"]
    assert block[3].startswith("  gain, points [95% CI]: -50.0 [")
    assert "baseline (how chosen)  candidate" not in screen  # no table too wide to read


def test_version_and_help_for_users(tmp_path: Path) -> None:
    proc = start(["--version"], tmp_path)
    out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0
    assert out == f"tunegate {importlib.metadata.version('tunegate')}\n"
    proc = start(["--help"], tmp_path)
    text = proc.communicate(timeout=60)[0].decode()
    assert "parse, call one function" not in text  # not the module docstring
    for cmd, example in EXAMPLES.items():
        assert f"  {example}\n" in text, cmd
        files = [a for a in example.split() if a.endswith(".yaml")]
        assert all((ROOT / f).is_file() for f in files), example  # examples that work
        sub = start([cmd, "--help"], tmp_path)
        assert f"example:\n  {example}\n" in sub.communicate(timeout=60)[0].decode()


def test_results_json_carries_the_headline(mixed: Path) -> None:
    proc = start(_args("run", mixed), mixed.parent)
    proc.communicate(timeout=300)
    verdict = json.loads(next((mixed.parent / "rep").glob("*/results.json")).read_text())[
        "verdict"]
    assert (verdict["headline"], verdict["gate"]) == (HEADLINE, GATE_LINE)
