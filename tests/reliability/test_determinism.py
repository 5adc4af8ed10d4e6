"""The same config and seed, run twice into two stores, give the same results.json.

The two runs are separate processes with different ``PYTHONHASHSEED`` (so set
and dict-of-set orders differ) and different concurrency-driven completion
orders; only the run id and timestamps may differ. A third run with another
seed must differ, so the equality is not trivially true.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from relkit import records, results_json, run_ok, write_project

VOLATILE = {"run_id", "created", "finished"}


def _normal(obj: Any, run_id: str) -> Any:
    """``obj`` without timestamps, with the run id replaced by a placeholder."""
    if isinstance(obj, dict):
        return {k: _normal(v, run_id) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_normal(v, run_id) for v in obj]
    if isinstance(obj, str):
        return obj.replace(run_id, "<run>")
    return obj


def _run(proj: Path, cfg: Path, name: str, hash_seed: str) -> tuple[dict[str, Any], Any]:
    run_ok(["run", cfg.name, "--store", f"store-{name}", "--reports", f"reports-{name}"], proj,
           {"PYTHONHASHSEED": hash_seed, "COUNTFAKE_DELAY_S": "0.002"})
    res = results_json(proj / f"reports-{name}")
    return res, records(proj / f"store-{name}/store.sqlite")


def test_same_config_and_seed_give_identical_results(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    cfg = write_project(proj, model="countfake:keyword", concurrency=4)
    first, first_records = _run(proj, cfg, "a", "1")
    second, second_records = _run(proj, cfg, "b", "2")
    assert first["run_id"] != second["run_id"]
    assert first_records == second_records
    a, b = _normal(first, first["run_id"]), _normal(second, second["run_id"])
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    # Byte-identical, key order included, once the volatile fields are out.
    assert json.dumps(a) == json.dumps(b)

    other = write_project(proj / "other", model="countfake:keyword", concurrency=4, seed=99)
    third, _ = _run(proj / "other", other, "c", "1")
    assert _normal(third, third["run_id"])["tasks"] != a["tasks"]
