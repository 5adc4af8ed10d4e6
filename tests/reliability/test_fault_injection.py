"""A run through a faulty network to a real ``llama_cpp.server`` completes and loses nothing.

A proxy in the test stands between tunegate's ``openai`` backend and a real
``python -m llama_cpp.server`` (the embedded GGUF) on loopback. By a seeded
schedule per prompt it drops connections, delays responses, answers 429 with
``Retry-After``, 500, a 200 whose JSON is cut short, and a response whose body
stops before its ``Content-Length``; some prompts fail on every attempt. The
run must complete (exit 1: some examples failed), send each prompt at most
``max_retries + 1`` times (exactly once more than its failures when it
succeeds), wait at least what ``Retry-After`` asked, record the failed prompts
as errors and nothing twice. A resume through the healed proxy then asks the
model only for the failed prompts and keeps every finished record.
"""

from __future__ import annotations

import json
import random
import re
import socket
import sqlite3
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from relkit import write_project

from harness.cli import main
from harness.modelfiles import embedded_gguf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from llama_server import ALIAS, LlamaServer, server_available  # noqa: E402

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not server_available(),
                                 reason="needs llama-cpp-python[server] (fastapi, uvicorn, ...)")]

FAILURES = ("drop", "429", "500", "garbled", "cut")
FAULTS = (*FAILURES, "delay")
MAX_RETRIES = 2
RETRY_AFTER_S = 1.0
DELAY_S = 1.5


def example_of(prompt: str) -> str:
    """The test example a prompt asks about (``te3``), from its message text."""
    found = re.search(r"te message (\d+) ", prompt)
    return f"te{found[1]}" if found else prompt


class FaultProxy(ThreadingHTTPServer):
    """Forwards to ``upstream``; an example's n-th attempt gets ``schedule[example][n]``."""

    daemon_threads = True

    def __init__(self, upstream: str, schedule: dict[str, list[str]]) -> None:
        super().__init__(("127.0.0.1", 0), _FaultHandler)
        self.upstream, self.schedule = upstream, schedule
        self.attempts: Counter[str] = Counter()
        self.log: list[tuple[float, str, int, str]] = []  # time, example, attempt, fault
        self.lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def fault_for(self, prompt: str) -> str:
        ex = example_of(prompt)
        with self.lock:
            n = self.attempts[ex]
            self.attempts[ex] += 1
            faults = self.schedule.get(ex, [])
            fault = faults[n] if n < len(faults) else "ok"
            self.log.append((time.monotonic(), ex, n, fault))
        return fault


class _FaultHandler(BaseHTTPRequestHandler):
    server: FaultProxy

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _upstream(self, method: str, body: bytes | None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.server.upstream + self.path.removeprefix("/v1"),
                                     data=body, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as resp:
            return resp.status, resp.read()

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("content-length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:  # noqa: N802
        self._send(*self._upstream("GET", None))

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        fault = self.server.fault_for(str(json.loads(raw).get("prompt", "")))
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault in ("429", "500"):
            self._send(int(fault), b'{"error": {"message": "injected"}}',
                       {"retry-after": str(int(RETRY_AFTER_S))} if fault == "429" else {})
            return
        if fault == "delay":
            time.sleep(DELAY_S)
        status, body = self._upstream("POST", raw)
        if fault == "garbled":  # a complete HTTP response whose JSON stops halfway
            self._send(status, body[: len(body) // 2])
        elif fault == "cut":  # the connection closes before Content-Length bytes came
            self._send(status, body[: len(body) // 2], length=len(body))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self._send(status, body)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "server.log"
    srv = LlamaServer(embedded_gguf()[0], log=log, n_ctx=512)
    try:
        yield srv.wait(timeout=300)
    finally:
        srv.stop()


def _schedule(prompts: list[str], seed: int) -> tuple[dict[str, list[str]], set[str]]:
    """Each fault at least once; two prompts that fail on every attempt."""
    rng = random.Random(seed)
    order = sorted(prompts)
    rng.shuffle(order)
    doomed = set(order[:2])
    schedule = {p: [rng.choice(FAILURES) for _ in range(MAX_RETRIES + 1)] for p in doomed}
    for i, p in enumerate(order[2:]):
        first = FAULTS[i % len(FAULTS)]
        schedule[p] = [first] + [rng.choice(FAULTS) for _ in range(rng.randint(0, 1))]
    return schedule, doomed


def _failures_before_success(faults: list[str]) -> int:
    """Attempts that fail before the first one that answers (a delay answers)."""
    for i, f in enumerate(faults):
        if f == "delay":
            return i
    return len(faults)


def test_faulty_network_run_completes_and_loses_nothing(
        llama: LlamaServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    cfg = write_project(proj, n_test=8, n_dev=2, calibrate=False)
    text = cfg.read_text().replace("variants: [zero.yaml, few.yaml]", "variants: [zero.yaml]")
    cfg.write_text(text + f"splits: [test]\nmax_retries: {MAX_RETRIES}\n")
    examples = [f"te{i}" for i in range(8)]

    schedule, doomed = _schedule(examples, seed=11)
    faulty = FaultProxy(llama.url, schedule)
    model = f"openai:{ALIAS}?base_url={faulty.url}&logprobs=false&concurrency=2&timeout=120"
    cfg.write_text(re.sub(r"models: \[.*\]", f"models: ['{model}']", cfg.read_text()))
    threading.Thread(target=faulty.serve_forever, daemon=True).start()

    def run() -> tuple[int, str, str]:
        code = main(["run", str(cfg), "--store", str(proj / "store"),
                     "--reports", str(proj / "reports")])
        out, err = capsys.readouterr()
        return code, out, err

    try:
        _check_runs(run, faulty, schedule, doomed, examples, proj / "store/store.sqlite")
    finally:
        faulty.shutdown()
        faulty.server_close()


def _check_runs(run: Any, faulty: FaultProxy, schedule: dict[str, list[str]], doomed: set[str],
                examples: list[str], db: Path) -> None:
    code, out, err = run()
    assert code == 1, (out, err)
    assert "2 examples failed after retries" in err, err
    assert "Traceback" not in out + err

    injected = Counter(f for _, _, _, f in faulty.log)
    assert all(injected[f] > 0 for f in FAULTS), injected
    for ex, faults in schedule.items():
        if ex in doomed:
            assert faulty.attempts[ex] == MAX_RETRIES + 1, (ex, faults, faulty.attempts)
        else:  # bounded, and never asked again once answered
            assert faulty.attempts[ex] == _failures_before_success(faults) + 1, (ex, faults)
    # Retry-After was honoured: the next attempt came at least that much later.
    for t, ex, n, fault in faulty.log:
        if fault == "429":
            later = [t2 for t2, e2, n2, _ in faulty.log if e2 == ex and n2 == n + 1]
            assert all(t2 - t >= RETRY_AFTER_S - 0.05 for t2 in later), (t, later)

    con = sqlite3.connect(db)
    rows = con.execute("SELECT example_id, error, output FROM records").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == examples  # one record each, none twice
    assert {r[0] for r in rows if r[1] is not None} == doomed
    print("\ninjected:", dict(injected), "errors:", [r[1] for r in rows if r[1]])
    finished = {r[0]: r[2] for r in rows if r[1] is None}

    # Resume through the healed proxy: only the two failed prompts reach the model.
    with faulty.lock:
        faulty.schedule, before = {}, len(faulty.log)
    code, out, err = run()
    assert code == 0, (out, err)
    assert re.search(r"resumed run \S+: 2 examples scored, 6 already stored, 2 model calls",
                     out), out
    assert sorted(ex for _, ex, _, _ in faulty.log[before:]) == sorted(doomed)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT example_id, error, output FROM records").fetchall()
    con.close()
    assert sorted(r[0] for r in rows) == examples and all(r[1] is None for r in rows)
    assert {r[0]: r[2] for r in rows if r[0] in finished} == finished
