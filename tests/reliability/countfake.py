"""``python countfake.py ARGS``: the ``tunegate`` CLI with one extra backend, ``countfake:MODE``.

``countfake`` is the scripted fake backend plus what the reliability tests need
to watch a run from outside the process:

- a delay per request (``COUNTFAKE_DELAY_S``), so a kill lands mid-run;
- a call log (``COUNTFAKE_LOG``): ``start KEY`` before and ``end KEY`` after each
  model call, KEY being the store's cache key of the request, so the test can
  tell which calls were repeated and which were lost in flight;
- an API key read from ``COUNTFAKE_API_KEY`` (as a hosted backend reads
  ``OPENAI_API_KEY``) and sent nowhere, for the secrets test.
"""

from __future__ import annotations

import os
import sys
import time

from harness.backends.base import (
    BACKENDS,
    BackendOptions,
    GenRequest,
    GenResponse,
    ModelSpec,
    ScoreRequest,
    ScoreResponse,
)
from harness.backends.fake import FakeBackend
from harness.cli import main
from harness.client import request_fields
from harness.store import cache_key


class CountFake(FakeBackend):
    """The fake backend, slowed down and logging every call it makes."""

    def __init__(self, mode: str) -> None:
        super().__init__(mode)
        self.delay = float(os.environ.get("COUNTFAKE_DELAY_S", "0"))
        self.log_path = os.environ.get("COUNTFAKE_LOG")
        self.api_key = os.environ.get("COUNTFAKE_API_KEY")

    def _log(self, event: str, kind: str, request: object) -> None:
        if not self.log_path:
            return
        key = cache_key(self.identity, kind, request_fields(request), 0)  # type: ignore[arg-type]
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{event} {key}\n".encode())
        finally:
            os.close(fd)

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Score after the delay, logging start and end."""
        self._log("start", "score", request)
        time.sleep(self.delay)
        resp = super().score(request)
        self._log("end", "score", request)
        return resp

    def generate(self, request: GenRequest) -> GenResponse:
        """Generate after the delay, logging start and end."""
        self._log("start", "generate", request)
        time.sleep(self.delay)
        resp = super().generate(request)
        self._log("end", "generate", request)
        return resp


def create(spec: ModelSpec, options: BackendOptions) -> CountFake:
    """Build the backend from ``countfake:MODE``."""
    return CountFake(spec.model or "keyword")


if __name__ == "__main__":
    if "countfake" not in BACKENDS:
        BACKENDS.add("countfake", create)
    sys.exit(main(sys.argv[1:]))
