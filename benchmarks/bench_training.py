"""LoRA training speed: tunegate's trainer step vs a naive peft loop, and how it scales.

Measures, on the embedded model (gemma-3-270m, unpacked HF copy) and one batch
of support-routing examples (8 prompts + answers, cut to a fixed length):
  1. the optimized step: base in the dtype the hardware computes natively
     (bf16 with AVX512-BF16/AMX or a GPU, else fp32), eager attention, logits
     only at the answer positions, fp32 LoRA weights;
  2. a naive peft step on the same batch: fp32 base, default (sdpa) attention,
     full ``[B, T, vocab]`` logits and a masked cross-entropy;
  3. the optimized step with an fp32 base (what an AVX2-only CPU gets);
  4. the optimized step over LoRA rank x sequence length: seconds per epoch
     per 100 examples, peak RSS, adapter size;
  5. whole epochs of the real trainer (``train_adapter``, one epoch) on 32, 64
     and 128 examples: seconds per epoch against the number of examples.
Each configuration runs in a fresh process (so its peak RSS is its own).
Prints a table and a final line of ratios; writes reports/bench/training.json.

Usage: .venv/bin/python benchmarks/bench_training.py [--steps N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
BATCH = 8


def _batch(tokenizer: Any, length: int) -> Any:
    from harness.tasks import load_task
    from harness.training.data import Encoded, collate

    task = load_task(ROOT / "tasks/support_routing.yaml")
    exs = []
    for ex in task.split("train")[:BATCH]:
        prompt = tokenizer(f"Message: {ex.input}\nQueue:", add_special_tokens=True)["input_ids"]
        answer = tokenizer(f" {ex.target}\n", add_special_tokens=False)["input_ids"]
        filler = tokenizer(" " + ex.input * 20, add_special_tokens=False)["input_ids"]
        room = length - len(answer)
        body = (filler + prompt[1:])[-(room - 1):]  # pad the prompt on the left with text
        exs.append(Encoded(ex.id, (prompt[0], *body), tuple(answer)))
    return collate(exs, tokenizer.pad_token_id or 0)


def one(mode: str, rank: int, length: int, steps: int) -> dict[str, Any]:
    """Time ``steps`` training steps of one configuration (run in its own process)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.finetune import resolve_base
    from harness.training import TrainOptions, choose_dtype, cpu_capability
    from harness.training.trainer import add_lora, answer_loss, full_logits_loss, peak_memory_bytes

    base = resolve_base("embedded")
    tok = AutoTokenizer.from_pretrained(str(base.hf_dir))
    batch = _batch(tok, length)
    naive = mode == "naive"
    fp32 = naive or mode == "optimized-fp32"
    dtype = torch.float32 if fp32 else getattr(torch, choose_dtype("cpu", cpu_capability()))
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(
        str(base.hf_dir), dtype=dtype, attn_implementation="sdpa" if naive else "eager")
    model = add_lora(model, TrainOptions(rank=rank, alpha=2 * rank))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    loss_fn = full_logits_loss if naive else answer_loss
    times = []
    for i in range(steps + 1):  # the first step warms up kernels and is not counted
        start = time.perf_counter()
        loss = loss_fn(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i:
            times.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        size = sum(p.stat().st_size for p in Path(tmp).glob("*.safetensors"))
    step = sorted(times)[len(times) // 2]
    return {"mode": mode, "rank": rank, "length": length, "dtype": str(dtype).split(".")[-1],
            "step_s": step, "s_per_epoch_per_100": step * 100 / BATCH,
            "tokens_per_s": int(batch.attention_mask.sum()) / step,
            "peak_rss_mb": peak_memory_bytes("cpu") / 2**20, "adapter_bytes": size,
            "loss": float(loss.detach())}


def _run(mode: str, rank: int, length: int, steps: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--one", mode, str(rank), str(length),
                          "--steps", str(steps)], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def epoch_scaling(sizes: tuple[int, ...] = (32, 64, 128)) -> list[dict[str, Any]]:
    """One real training epoch per size (support routing, bare template): its seconds."""
    from harness.finetune import train_adapter
    from harness.tasks import load_task
    from harness.training import TrainOptions

    task = load_task(ROOT / "tasks/support_routing.yaml")
    template = (ROOT / "baselines/templates/classify_bare.j2").read_text(encoding="utf-8")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            opts = TrainOptions(epochs=1, max_examples=n, seed=0, lr=2e-3, template=template)
            res = train_adapter(task, out_dir=Path(tmp) / str(n), options=opts)
            record = json.loads(res.training_json.read_text(encoding="utf-8"))
            seconds = float(record["metrics"]["epoch_seconds"][0])
            rows.append({"examples": n, "epoch_s": seconds, "s_per_example": seconds / n})
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="one rank and length in the table")
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--epochs-only", action="store_true",
                   help="only the seconds-per-epoch vs examples measurement")
    args = p.parse_args()
    if args.epochs_only:
        _print_epochs(epoch_scaling())
        return
    if args.one:
        mode, rank, length = args.one
        print(json.dumps(one(mode, int(rank), int(length), args.steps)))
        return
    import torch

    from harness.training import cpu_capability

    cap = cpu_capability()
    print(f"CPU capability: {cap}; torch threads {torch.get_num_threads()}; "
          f"batch {BATCH}; median of {args.steps} steps after one warm-up")
    fast = _run("optimized", 8, 128, args.steps)
    slow = _run("naive", 8, 128, args.steps)
    fp32 = _run("optimized-fp32", 8, 128, args.steps)  # what an AVX2-only CPU gets
    grid = [(r, n) for r in ((8,) if args.quick else (4, 8, 16))
            for n in ((64, 256) if args.quick else (64, 128, 256))]
    rows = [fast if (r, n) == (8, 128) else _run("optimized", r, n, args.steps)
            for r, n in grid]
    print(f"\n{'mode':<14} {'rank':>4} {'len':>4} {'dtype':>9} {'step s':>7} "
          f"{'s/epoch/100ex':>13} {'tok/s':>6} {'peak RSS MB':>11} {'adapter KB':>10}")
    for r in [slow, fp32, *rows]:
        print(f"{r['mode']:<14} {r['rank']:>4} {r['length']:>4} {r['dtype']:>9} "
              f"{r['step_s']:>7.2f} {r['s_per_epoch_per_100']:>13.1f} {r['tokens_per_s']:>6.0f} "
              f"{r['peak_rss_mb']:>11.0f} {r['adapter_bytes'] / 1024:>10.0f}")
    epochs = _print_epochs(epoch_scaling())
    ratio = slow["step_s"] / fast["step_s"]
    out = ROOT / "reports" / "bench" / "training.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    ratio32 = slow["step_s"] / fp32["step_s"]
    out.write_text(json.dumps({"cpu_capability": cap, "naive": slow, "optimized": fast,
                               "optimized_fp32": fp32, "grid": rows, "speedup": ratio,
                               "epochs_vs_examples": epochs,
                               "speedup_fp32": ratio32}, indent=2) + "\n")
    print(f"\nratios: optimized step {ratio:.2f}x faster than the naive peft step (target >= 2.5x)"
          f" on {cap}, rank 8, {BATCH} x 128 tokens ({ratio32:.2f}x with an fp32 base, as on an "
          f"AVX2-only CPU); naive peak RSS "
          f"{slow['peak_rss_mb'] / fast['peak_rss_mb']:.2f}x the optimized; wrote {out}")


def _print_epochs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    print(f"\n{'examples':>8} {'epoch s':>8} {'s/example':>10}")
    for r in rows:
        print(f"{r['examples']:>8} {r['epoch_s']:>8.2f} {r['s_per_example']:>10.3f}")
    growth = rows[-1]["s_per_example"] / rows[0]["s_per_example"]
    print(f"ratios: seconds per example at {rows[-1]['examples']} / at {rows[0]['examples']} "
          f"examples = {growth:.2f} (<= 1.1: an epoch grows linearly with the examples)")
    return rows


if __name__ == "__main__":
    main()
