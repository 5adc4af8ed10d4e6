"""Real public datasets from ../shared/datasets (never copied into this repository).

``TUNEGATE_DATASETS`` names another folder (a git worktree, whose parent has
no ``shared``, or a CI cache).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATASETS = Path(os.environ.get("TUNEGATE_DATASETS")
                or Path(__file__).resolve().parents[2].parent / "shared" / "datasets")


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {DATASETS} (a fresh clone has no ../shared; "
                    "TUNEGATE_DATASETS names another folder)")
    return DATASETS
