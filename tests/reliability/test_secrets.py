"""An API key given through the environment never reaches the store, logs, reports or errors.

A ``tunegate -v run`` (debug logging) talks to a loopback OpenAI-compatible
server that checks the key and, like careless servers and proxies, echoes it
back in error bodies and response headers (which httpcore's debug log prints,
so ``-v`` must not turn on the HTTP clients' debug logs): some prompts get a 500 (retried,
then recorded as errors), and a second run with a prompt the server rejects
(400) records that example's error (one line, the key redacted) and goes on.
Every byte the runs leave behind is searched for the key and for any
8-character piece of it: the store directory (database, WAL
and shared-memory files, adapters), every report file, stdout and stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from relkit import COUNTFAKE, write_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from http_stubs import Loopback, Reply, models_reply  # noqa: E402

KEY = "sk-tg-0123456789abcdefSECRET"
PIECES = [KEY[i:i + 8] for i in range(len(KEY) - 7)]


class KeyCheckingServer:
    """/v1/models and /v1/completions; needs the key; echoes it in every error body."""

    def __init__(self, fail_marker: str, reject_marker: str) -> None:
        self.fail_marker, self.reject_marker = fail_marker, reject_marker
        self.requests = 0

    def __call__(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Reply:
        self.requests += 1
        if headers.get("authorization") != f"Bearer {KEY}":
            return 401, {}, {"error": {"message": f"bad key {headers.get('authorization')}"}}
        if path == "/v1/models":
            return models_reply("m")
        prompt = str((body or {}).get("prompt", ""))
        echo = {"error": {"message": f"request with key {KEY} failed", "key": KEY}}
        if self.reject_marker in prompt:
            return 400, {"x-api-key": KEY}, echo
        if self.fail_marker in prompt:
            return 500, {"x-api-key": KEY}, echo
        words = [w.strip(".,:") for w in prompt[-200:].split()]
        label = next((w for w in reversed(words) if w in ("ALPHA", "BETA", "GAMMA")), "ALPHA")
        return 200, {}, {"id": "c", "object": "text_completion", "created": 0, "model": "m",
                         "choices": [{"index": 0, "text": f" {label}", "finish_reason": "stop",
                                      "logprobs": None}],
                         "usage": {"prompt_tokens": 9, "completion_tokens": 1,
                                   "total_tokens": 10}}


def _tunegate(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "TG_SECRET": KEY}
    return subprocess.run([sys.executable, str(COUNTFAKE), "-v", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300, check=False)


def _leaks(blob: bytes) -> list[str]:
    text = blob.decode("utf-8", "replace")
    return [p for p in PIECES if p in text or p.encode() in blob]


def test_api_key_appears_nowhere(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    server = KeyCheckingServer(fail_marker="te message 7 ", reject_marker="dv message 5 ")
    with Loopback(server) as srv:
        model = (f"openai:m?base_url={srv.url}/v1&api_key_env=TG_SECRET&logprobs=false"
                 "&concurrency=2")
        cfg = write_project(proj, model=model, n_test=12, n_dev=4, calibrate=False)
        cfg.write_text(cfg.read_text() + "max_retries: 1\n")
        ok = _tunegate(["run", cfg.name, "--store", "store", "--reports", "reports"], proj)
        # A second config whose dev split holds a prompt the server rejects with a 400.
        bad = write_project(proj / "bad", model=model, n_test=4, n_dev=8, run_name="bad",
                            calibrate=False)
        rejected = _tunegate(["run", bad.name, "--store", "../store", "--reports",
                              "../reports"], proj / "bad")
    out = ok.stdout.decode() + ok.stderr.decode()
    assert ok.returncode == 1, out  # exit 1: some examples failed after retries
    assert "examples failed after retries" in out

    # The 400 is that one example's error (recorded, with the key redacted); the run goes on.
    err = rejected.stderr.decode()
    assert rejected.returncode == 1, err
    refused = [ln for ln in err.splitlines() if "example dv5: " in ln]
    assert refused and "HTTP 400" in refused[0] and "request with key ***" in refused[0]
    assert "Traceback" not in err

    files = [p for p in (proj / "store").rglob("*") if p.is_file()]
    files += [p for p in (proj / "reports").rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"store.sqlite", "results.json", "report.md", "index.html"} <= names, names
    leaks = {str(p): _leaks(p.read_bytes()) for p in files}
    leaks["output of the first run"] = _leaks(ok.stdout + ok.stderr)
    leaks["output of the rejected run"] = _leaks(rejected.stdout + rejected.stderr)
    assert not any(leaks.values()), {k: v for k, v in leaks.items() if v}

    # The failed examples are in the store as errors, without the key.
    import sqlite3

    con = sqlite3.connect(proj / "store/store.sqlite")
    errors = [r[0] for r in con.execute("SELECT error FROM records WHERE error IS NOT NULL")]
    config = con.execute("SELECT config FROM runs").fetchone()[0]
    con.close()
    refused = [e for e in errors if "HTTP 400" in e]  # dv5 of the rejected run, per variant
    assert refused and all("example dv5: " in e for e in refused), errors
    assert all("HTTP 500" in e or "HTTP 400" in e for e in errors), errors
    assert "TG_SECRET" in json.loads(config)["models"][0]  # the variable's name, not its value
