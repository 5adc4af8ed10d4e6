"""Training tests: passive OpenMP threads (set before torch loads; see harness.training)."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
