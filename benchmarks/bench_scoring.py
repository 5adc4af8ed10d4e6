"""Label scoring of one classification task: tunegate embedded vs lm-eval hf vs lm-eval server.

The same task (support_routing, zero-shot prompt, 8 labels, the first N test
examples) and the same model weights three ways:
  1. ``tunegate run`` on the embedded backend (llama.cpp in-process: prompt
     decoded once, all labels in one batched decode, numpy log-softmax on
     the label rows only);
  2. lm-eval's ``hf`` model in-process on the embedded model's unpacked HF
     copy (one forward pass per label, batched);
  3. lm-eval ``local-completions`` against ``python -m llama_cpp.server``
     (echo logprobs, one request per label; only a few examples: each
     request costs seconds because the server sorts gemma's 262k-token
     vocabulary in Python for every token).
Prints a table and a final line of per-example wall-time ratios; writes
reports/bench/scoring.json.

Usage: .venv/bin/python benchmarks/bench_scoring.py [--n 20] [--n-server 2]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from harness.backends.base import BackendOptions
from harness.config import load_config
from harness.lmeval import LmevalOptions, run_lmeval
from harness.modelfiles import embedded_gguf
from harness.runner import Runner
from harness.store import Store
from harness.tasks import load_task
from harness.variants.prompt import load_variant

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_generation import small_task  # noqa: E402
from llama_server import ALIAS, LlamaServer  # noqa: E402

VARIANT = ROOT / "baselines" / "zero_shot.yaml"


def hf_dir() -> Path:
    from harness.training.unpack import unpack_gguf, unpacked_dir

    path, digest = embedded_gguf()
    return unpack_gguf(path, digest, unpacked_dir(path, digest, embedded=True))


def tunegate_embedded(tmp: Path, task_path: Path) -> tuple[float, float]:
    cfg = tmp / "run.yaml"
    cfg.write_text(f"name: bench-score\nseed: 0\ntasks: [{task_path}]\nvariants: [{VARIANT}]\n"
                   "models: [embedded]\nsplits: [test]\n")
    store = Store(tmp / "store-tg")
    start = time.perf_counter()
    result = Runner(load_config(cfg), store, BackendOptions()).run()
    wall = time.perf_counter() - start
    values = [r.scores["label_accuracy"]["value"] for r in store.records(result.run_id)]
    store.close()
    return wall, sum(values) / len(values)


def lmeval(tmp: Path, task_path: Path, model: str, args: str, limit: int | None,
           batch: int) -> tuple[float, float]:
    store = Store(tmp / f"store-{model}")
    opts = LmevalOptions(model, args, "multiple_choice", tmp / f"lm-{model}", limit, batch)
    start = time.perf_counter()
    done = run_lmeval(load_task(task_path), store, opts, load_variant(VARIANT))
    wall = time.perf_counter() - start
    store.close()
    return wall, done.value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--n-server", type=int, default=2)
    args = ap.parse_args()
    hf = hf_dir()
    rows: dict[str, tuple[int, float, float]] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        task_path = small_task(tmp, args.n)
        wall, acc = tunegate_embedded(tmp, task_path)
        rows["tunegate embedded (in-process)"] = (args.n, wall, acc)
        wall, acc = lmeval(tmp, task_path, "hf", f"pretrained={hf},dtype=float32,device=cpu",
                           None, 8)
        rows["lm-eval hf (in-process)"] = (args.n, wall, acc)
        srv = LlamaServer(embedded_gguf()[0], log=tmp / "server.log").wait()
        try:
            wall, acc = lmeval(tmp, task_path, "local-completions",
                               f"base_url={srv.url}/completions,model={ALIAS},"
                               f"tokenized_requests=False,num_concurrent=1,max_retries=3,"
                               f"tokenizer_backend=huggingface,tokenizer={hf}",
                               args.n_server, 1)
        finally:
            srv.stop()
        rows["lm-eval local-completions (server)"] = (args.n_server, wall, acc)
    print(f"{'method':36s} {'n':>4s} {'wall s':>8s} {'s/example':>10s} {'accuracy':>9s}")
    for name, (n, wall, acc) in rows.items():
        print(f"{name:36s} {n:4d} {wall:8.2f} {wall / n:10.3f} {acc:9.3f}")
    per = {k: v[1] / v[0] for k, v in rows.items()}
    base = per["tunegate embedded (in-process)"]
    hf_ratio = per["lm-eval hf (in-process)"] / base
    srv_ratio = per["lm-eval local-completions (server)"] / base
    out = ROOT / "reports" / "bench" / "scoring.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": {k: {"n": n, "wall_s": w, "accuracy": a}
                                        for k, (n, w, a) in rows.items()},
                               "per_example_ratio_lmeval_hf": hf_ratio,
                               "per_example_ratio_lmeval_server": srv_ratio}, indent=2))
    print(f"ratios (per-example wall time vs tunegate embedded): lm-eval hf = {hf_ratio:.1f}x; "
          f"lm-eval local-completions on llama.cpp server = {srv_ratio:.0f}x")


if __name__ == "__main__":
    main()
