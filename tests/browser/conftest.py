"""Headless Chromium for report tests, driven over the DevTools protocol on a pipe.

No selenium and no chromedriver: ``--remote-debugging-pipe`` makes Chromium
read protocol messages from fd 3 and write them to fd 4 (JSON, NUL-separated),
so the standard library is enough, no TCP port is opened, and the protocol's
network events show every request the page makes. Tests skip when no
Chromium binary is found (Debian: ``apt-get install chromium``; or set
``TUNEGATE_CHROMIUM`` to a Chrome/Chromium binary).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]

# Runs before any page script: counts alert() calls and CSP violations.
PROBE = """
window.__xss = 0;
window.alert = function () { window.__xss += 1; };
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def chromium_binary() -> str | None:
    """The Chromium (or Chrome) binary to use, or None when there is none."""
    env = os.environ.get("TUNEGATE_CHROMIUM")
    if env:
        return shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser process and its protocol pipe."""

    def __init__(self, binary: str, profile: Path, log: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def _wire_fds() -> None:  # in the child: its fd 3 reads, its fd 4 writes
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)
            for fd in (3, 4):  # dup2 onto itself (a == 3) keeps close-on-exec: clear it
                os.set_inheritable(fd, True)

        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, close_fds=False,
                preexec_fn=_wire_fds, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.events: list[dict[str, Any]] = []
        self._replies: dict[int, dict[str, Any]] = {}
        self._next = 0
        self._closed = False
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cond:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cond.notify_all()

    def _dead(self, what: str) -> RuntimeError:
        tail = self.log.read_text(errors="replace")[-2000:]
        return RuntimeError(f"chromium {what}; its log ends:\n{tail}")

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and return its result (raises on a protocol error)."""
        with self._cond:
            self._next += 1
            ident = self._next
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cond:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise self._dead(f"gave no reply to {method}")
                self._cond.wait(left)
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait_event(self, method: str, session: str, start: int, timeout: float = 30.0
                   ) -> dict[str, Any]:
        """The first event ``method`` of ``session`` at or after index ``start``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[start:]:
                    if ev.get("method") == method and ev.get("sessionId") == session:
                        return ev
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise self._dead(f"sent no {method}")
                self._cond.wait(left)

    def close(self) -> None:
        """Close the browser; kill its process group if it does not exit."""
        try:
            self.call("Browser.close", timeout=10)
            self.proc.wait(timeout=10)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this fixture started
            self.proc.wait(timeout=10)
        finally:
            os.close(self._to_child)


class Page:
    """One tab: load a file, evaluate JavaScript, click, screenshot."""

    def __init__(self, browser: Chromium, width: int = 1280, height: int = 900) -> None:
        self.browser = browser
        self.target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.call("Target.attachToTarget",
                                    {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable")
        self.call("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self.session)

    def goto(self, path: Path) -> None:
        start = len(self.browser.events)
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        self.browser.wait_event("Page.loadEventFired", self.session, start)

    def js(self, expression: str) -> Any:
        reply = self.call("Runtime.evaluate", {"expression": expression,
                                               "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"{expression}: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the element's centre."""
        box = self.js(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            "el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def screenshot(self, path: Path) -> bytes:
        png = base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])
        path.write_bytes(png)
        return png

    def requests(self) -> list[str]:
        """URLs of every request this page has made."""
        return [ev["params"]["request"]["url"] for ev in self.browser.events
                if ev.get("method") == "Network.requestWillBeSent"
                and ev.get("sessionId") == self.session]

    def exceptions(self) -> list[dict[str, Any]]:
        """Uncaught JavaScript exceptions on this page."""
        return [ev["params"] for ev in self.browser.events
                if ev.get("method") == "Runtime.exceptionThrown"
                and ev.get("sessionId") == self.session]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary found: install Debian's `chromium` "
                    "(apt-get install chromium) or set TUNEGATE_CHROMIUM")
    root = tmp_path_factory.mktemp("chromium")
    chrome = Chromium(binary, root / "profile", root / "chromium.log")
    try:
        chrome.call("Browser.getVersion")
        yield chrome
    finally:
        chrome.close()


@pytest.fixture
def page(browser: Chromium) -> Iterator[Page]:
    tab = Page(browser)
    yield tab
    browser.call("Target.closeTarget", {"targetId": tab.target})


# -- a toy run with the fake backend (no model is loaded) -------------------------

TASK_YAML = """\
name: toy
family: classification
data:
  columns: {id: id, input: text, target: label}
  files: {train: data/train.jsonl, dev: data/dev.jsonl, test: data/test.jsonl}
labels: {ALPHA: the first kind, BETA: the second kind}
metric: accuracy
"""

RUN_YAML = """\
name: toyrun
seed: 7
tasks: [task.yaml]
variants: [echo.yaml, const.yaml]
models: ["fake:keyword"]
concurrency: 2
analysis: {resamples: 200}
"""

# (gold label, label the text names): fake:keyword predicts the named label.
SPLITS = {
    "train": [("ALPHA", "ALPHA"), ("BETA", "BETA")] * 4,
    "dev": [("ALPHA", "ALPHA"), ("BETA", "BETA")] * 2,
    "test": [("ALPHA", "ALPHA"), ("BETA", "BETA"), ("ALPHA", "ALPHA"), ("BETA", "BETA"),
             ("ALPHA", "BETA"), ("BETA", "ALPHA")],
}


def write_toy_project(root: Path, test_texts: list[str] | None = None) -> Path:
    """A task, two prompt variants (echo reads the input, const always says BETA), a config.

    Args:
        root: Directory to write into.
        test_texts: Optional prefixes for the test inputs (each still names its label).

    Returns:
        The run config's path.
    """
    (root / "data").mkdir(parents=True)
    for split, pairs in SPLITS.items():
        rows = []
        for i, (gold, named) in enumerate(pairs):
            prefix = test_texts[i % len(test_texts)] + " " if split == "test" and test_texts \
                else ""
            rows.append(json.dumps({"id": f"{split[:2]}{i}", "label": gold,
                                    "text": f"{prefix}{split} message {i} is about {named}"}))
        (root / "data" / f"{split}.jsonl").write_text("\n".join(rows) + "\n")
    (root / "task.yaml").write_text(TASK_YAML)
    (root / "echo.j2").write_text("Message: {{ input }}\nAnswer:")
    (root / "echo.yaml").write_text("name: echo\ntemplate: echo.j2\n")
    (root / "const.j2").write_text("Answer: BETA")
    (root / "const.yaml").write_text("name: const\ntemplate: const.j2\n")
    (root / "run.yaml").write_text(RUN_YAML)
    return root / "run.yaml"


@pytest.fixture
def toy_project() -> Any:
    """The :func:`write_toy_project` builder."""
    return write_toy_project
