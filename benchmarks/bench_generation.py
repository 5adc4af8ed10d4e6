"""Generation throughput through one local llama.cpp server: tunegate vs a bare loop vs lm-eval.

Starts ``python -m llama_cpp.server`` with the embedded GGUF on a loopback
port, then sends the same requests (support_routing test messages with the
bare prompt, greedy, stop at a newline, the label token budget) by:
  1. a bare sequential loop (httpx, one POST after another: the server's
     sustainable throughput, since it answers one request at a time);
  2. ``tunegate run`` (store, cache miss, records, scoring) at concurrency
     1, 2, 4 and 8 through the ``openai`` backend;
  3. lm-eval ``local-completions`` on the exported ``generate_until`` task.
Prints a table and a final line of ratios; writes reports/bench/generation.json.

Usage: .venv/bin/python benchmarks/bench_generation.py [--n 16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.lmeval import LmevalOptions, export_lmeval, lm_task_name
from harness.modelfiles import embedded_gguf
from harness.runner import Runner
from harness.store import Store
from harness.tasks import load_task
from harness.variants.prompt import load_variant

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from llama_server import ALIAS, LlamaServer  # noqa: E402

VARIANT = ROOT / "baselines" / "bare.yaml"


def small_task(tmp: Path, n: int) -> Path:
    """support_routing with its test split cut to the first ``n`` rows."""
    src = ROOT / "tasks" / "support_routing.yaml"
    data = ROOT / "tasks" / "data" / "support_routing"
    test = tmp / "test.jsonl"
    test.write_text("".join((data / "test.jsonl").read_text().splitlines(True)[:n]))
    text = src.read_text().replace("data/support_routing/train.jsonl", str(data / "train.jsonl"))
    text = text.replace("data/support_routing/dev.jsonl", str(data / "dev.jsonl"))
    text = text.replace("data/support_routing/test.jsonl", str(test))
    out = tmp / "support_routing.yaml"
    out.write_text(text)
    return out


def label_budget(task_path: Path) -> int:
    """The max_tokens tunegate's openai backend asks for (its token estimate + 2)."""
    labels = list(load_task(task_path).spec.labels)
    return max(len((" " + lab).encode()) // 3 + 1 for lab in labels) + 2


def bare_loop(url: str, prompts: list[str], max_tokens: int) -> float:
    start = time.perf_counter()
    with httpx.Client(timeout=600) as client:
        for p in prompts:
            r = client.post(f"{url}/completions", json={
                "model": ALIAS, "prompt": p, "max_tokens": max_tokens, "temperature": 0.0,
                "stop": ["\n"], "seed": 0})
            r.raise_for_status()
    return time.perf_counter() - start


def tunegate_run(tmp: Path, task_path: Path, url: str, conc: int) -> float:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / f"run{conc}.yaml"
    model = f"openai:{ALIAS}?base_url={url}&logprobs=false&concurrency={conc}"
    cfg.write_text(f"name: bench-gen-{conc}\nseed: 0\ntasks: [{task_path}]\n"
                   f"variants: [{VARIANT}]\nmodels: ['{model}']\nsplits: [test]\n"
                   f"concurrency: {conc}\n")
    config = load_config(cfg)
    store = Store(tmp / f"store{conc}")
    start = time.perf_counter()
    result = Runner(config, store, BackendOptions()).run()
    wall = time.perf_counter() - start
    store.close()
    assert result.errors == 0 and result.model_calls == result.records, result
    return wall


def lmeval_run(tmp: Path, task_path: Path, url: str, max_tokens: int) -> float:
    from harness.lmeval import _evaluate

    task, variant = load_task(task_path), load_variant(VARIANT)
    export_lmeval(task, tmp / "lm", variant, "test", 0, max_gen_toks=max_tokens)
    opts = LmevalOptions("local-completions",
                         f"base_url={url}/completions,model={ALIAS},tokenized_requests=False,"
                         "num_concurrent=1,max_retries=3,tokenizer_backend=None",
                         "generate_until", tmp / "lm")
    start = time.perf_counter()
    _evaluate(lm_task_name(task, variant, "generate_until"), opts)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2,
                    help="interleaved rounds; the best wall time per method counts")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        task_path = small_task(tmp, args.n)
        task, variant = load_task(task_path), load_variant(VARIANT)
        prompts = [variant.render(task, ex.input, ()) for ex in task.split("test")]
        budget = label_budget(task_path)
        srv = LlamaServer(embedded_gguf()[0], log=tmp / "server.log").wait()
        try:
            bare_loop(srv.url, prompts[:2], budget)  # warm the server once
            rows: dict[str, float] = {}
            for r in range(args.rounds):
                walls = {"bare loop (sequential)": bare_loop(srv.url, prompts, budget)}
                for conc in (1, 2, 4, 8):
                    walls[f"tunegate run, concurrency {conc}"] = tunegate_run(
                        tmp / f"r{r}", task_path, srv.url, conc)
                walls["lm-eval local-completions"] = lmeval_run(tmp / f"r{r}", task_path,
                                                                srv.url, budget)
                rows = {k: min(v, rows.get(k, v)) for k, v in walls.items()}
        finally:
            srv.stop()
    n = len(prompts)
    bare = n / rows["bare loop (sequential)"]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"{'method':36s} {'wall s':>8s} {'req/s':>7s} {'vs bare':>8s}")
    for name, wall in rows.items():
        print(f"{name:36s} {wall:8.2f} {n / wall:7.2f} {n / wall / bare:8.2f}")
    best = max(n / w for k, w in rows.items() if k.startswith("tunegate"))
    lm = n / rows["lm-eval local-completions"]
    out = ROOT / "reports" / "bench" / "generation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"n_requests": n, "max_tokens": budget, "rounds": args.rounds,
                               "best_wall_s": rows,
                               "ratio_tunegate_best_vs_bare": best / bare,
                               "ratio_lmeval_vs_bare": lm / bare}, indent=2))
    print(f"ratios: tunegate best / bare loop = {best / bare:.2f} (target >= 0.90); "
          f"lm-eval local-completions / bare loop = {lm / bare:.2f}; n={n}")


if __name__ == "__main__":
    main()
